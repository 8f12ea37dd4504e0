package dev.kvmctl.contexts;

import dev.kvmctl.guests.CallDevice;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.Switchable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * Runs several guests on one host thread (the thread that calls {@link #run}): anything
 * {@link Switchable}, kvmctl's {@link Machine}s or a VMM's own. A guest whose slice or switch
 * throws anything ({@link Error}s included) ends as {@link dev.kvmctl.guests.Outcome#FAILED}
 * (a machine releases what its call device holds); the others run on. A guest runs until its time
 * quantum ends (a timer kicks it out of KVM_RUN), it yields, or it waits for another VM; then the
 * switcher switches: hooks see the outgoing guest, then the next runnable one, round robin. With
 * {@link ContextSwitchHook} each switch stores the outgoing context and loads the incoming one.
 * An SMP machine runs one vCPU per slice, the next one at its next turn.
 *
 * <pre>{@code
 * try (Machine a = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long")).name("a").ring(3).build());
 *      Machine b = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long")).name("b").ring(3).build())) {
 *     Switcher switcher = new Switcher(List.of(a, b), Duration.ofMillis(1));
 *     switcher.addHook(new ContextSwitchHook(SwitchMode.WARM));
 *     List<RunResult> results = switcher.run(Duration.ofSeconds(30));
 *     System.out.println(switcher.switches() + " switches, " + switcher.switchLatency());
 * }
 * }</pre>
 *
 * <p>A switcher belongs to the thread that calls {@link #run}: read its counters there, after a run.
 */
public final class Switcher {
    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kvmctl-quantum");
        t.setDaemon(true);
        return t;
    });

    private final List<Switchable> machines;
    private final Duration quantum;
    private final List<SwitchHook> hooks = new ArrayList<>();
    private final LatencyRecorder switchLatency = new LatencyRecorder();
    private final Object timerLock = new Object();
    private Random jitter;
    private long switches;
    private long preemptions;
    private long yields;
    private long blocks;
    private long idleWaits;
    /** The guest the armed quantum may kick; null while switching, so a late tick never lands. */
    private Switchable armed;
    /** Whether the quantum ended the last slice (otherwise the guest yielded). */
    private volatile boolean lastSliceKicked;
    private ScheduledFuture<?> tick;
    /** Whether the current {@link #run} has a time limit, and when it ends ({@link System#nanoTime()}). */
    private boolean limited;
    private long deadline;

    /**
     * A switcher over {@code machines} with time slices of {@code quantum}. Without a hook it
     * only time-slices: add a {@link ContextSwitchHook} to switch contexts.
     *
     * @param machines the guests ({@link Machine}s or a VMM's own), ready and not running elsewhere; copied
     * @param quantum the longest slice a guest runs before the next one's turn
     * @throws IllegalArgumentException for no guests or a quantum that is not positive
     */
    public Switcher(List<? extends Switchable> machines, Duration quantum) {
        if (machines.isEmpty()) {
            throw new IllegalArgumentException("nothing to run");
        }
        if (quantum.isNegative() || quantum.isZero()) {
            throw new IllegalArgumentException("the quantum must be positive, got " + quantum);
        }
        this.machines = List.copyOf(machines);
        this.quantum = quantum;
    }

    /**
     * Adds a hook; hooks run in the order added. Add them before {@link #run}.
     *
     * @param hook called at every switch-out and switch-in
     * @return this switcher
     */
    public Switcher addHook(SwitchHook hook) {
        hooks.add(hook);
        return this;
    }

    /**
     * Makes each quantum a random length between half and one and a half times the quantum, so
     * preemption lands at unpredictable points of the guests' code (for tests).
     *
     * @param seed the seed of the lengths, so a failing run can be repeated
     * @return this switcher
     */
    public Switcher randomizeQuantum(long seed) {
        this.jitter = new Random(seed);
        return this;
    }

    /**
     * Runs until every machine has ended or {@code timeout} passes (zero: no limit). Results in
     * machine order. A slice that would run past the time limit is cut at it, so the limit holds
     * to within a switch whatever the quantum. A machine still running at the limit ends as
     * {@link dev.kvmctl.guests.Outcome#TIMED_OUT}.
     *
     * @param timeout the longest time to run, from the call; zero or negative for no limit
     * @return one result per machine, in machine order
     */
    public List<RunResult> run(Duration timeout) {
        limited = !(timeout.isZero() || timeout.isNegative());
        deadline = limited ? System.nanoTime() + timeout.toNanos() : 0;
        int n = machines.size();
        boolean[] started = new boolean[n];
        boolean[] blocked = new boolean[n];
        int current = n - 1;
        long sliceEnd = 0;
        SwitchEvent.Reason reason = SwitchEvent.Reason.START;
        while (true) {
            int next = pickNext(current, blocked);
            if (next < 0) {
                if (allFinished()) {
                    break;
                }
                if (pastDeadline()) {
                    break;
                }
                idleWait(blocked);
                continue;
            }
            if (pastDeadline()) {
                break;
            }
            Switchable m = machines.get(next);
            SwitchEvent in = new SwitchEvent(m, ++switches, started[next] ? reason : SwitchEvent.Reason.START);
            if (!switchIn(m, in)) {
                continue;
            }
            if (started[next] && sliceEnd != 0) {
                switchLatency.record(System.nanoTime() - sliceEnd);
            }
            started[next] = true;
            arm(m);
            Machine.Slice slice;
            try {
                slice = m.runSlice();
            } catch (Throwable t) { // an Error too: this machine fails, the others run on
                slice = new Machine.Finished(m.fail(t));
            } finally {
                disarm(m);
            }
            sliceEnd = System.nanoTime();
            current = next;
            blocked[next] = slice instanceof Machine.Blocked;
            if (slice instanceof Machine.Finished) {
                continue;
            }
            if (slice instanceof Machine.Blocked) {
                blocks++;
                reason = SwitchEvent.Reason.BLOCKED;
            } else if (!lastSliceKicked) {
                yields++;
                reason = SwitchEvent.Reason.YIELD;
            } else {
                preemptions++;
                reason = SwitchEvent.Reason.QUANTUM;
            }
            SwitchEvent out = new SwitchEvent(m, switches, reason);
            try {
                for (SwitchHook h : hooks) {
                    h.beforeSwitchOut(out);
                }
            } catch (Throwable t) { // its context could not be kept: it cannot go on
                m.fail(t);
            }
        }
        List<RunResult> results = new ArrayList<>();
        for (Switchable m : machines) {
            results.add(m.finished() ? m.result() : m.timeOut("no result within the time limit; stopped"));
        }
        return results;
    }

    /** Runs the switch-in hooks; a machine they fail for (its context cannot be loaded) ends as failed. */
    private boolean switchIn(Switchable m, SwitchEvent in) {
        try {
            for (SwitchHook h : hooks) {
                h.afterSwitchIn(in);
            }
            return true;
        } catch (Throwable t) {
            m.fail(t);
            return false;
        }
    }

    private boolean pastDeadline() {
        return limited && System.nanoTime() - deadline >= 0;
    }

    /** Nanoseconds to the time limit (at least 0), or {@code Long.MAX_VALUE} without one. */
    private long untilDeadline() {
        return limited ? Math.max(0, deadline - System.nanoTime()) : Long.MAX_VALUE;
    }

    private void arm(Switchable m) {
        long q = quantum.toNanos();
        if (jitter != null) {
            q = q / 2 + (long) (jitter.nextDouble() * q);
        }
        // The timer that ends the quantum also enforces the time limit: a slice never outlasts it.
        q = Math.min(q, untilDeadline());
        synchronized (timerLock) {
            armed = m;
            lastSliceKicked = false;
        }
        tick = TIMER.schedule(this::fire, q, TimeUnit.NANOSECONDS);
    }

    private void fire() {
        synchronized (timerLock) {
            if (armed != null) {
                lastSliceKicked = true;
                armed.kick();
            }
        }
    }

    private void disarm(Switchable m) {
        tick.cancel(false);
        synchronized (timerLock) {
            armed = null;
        }
        // A tick that landed after the slice ended left immediate_exit set; it has done its job.
        m.clearKick();
    }

    private int pickNext(int current, boolean[] blocked) {
        int n = machines.size();
        for (int k = 1; k <= n; k++) {
            int i = (current + k) % n;
            Switchable m = machines.get(i);
            if (m.finished()) {
                continue;
            }
            if (blocked[i] && !m.ready()) {
                continue;
            }
            return i;
        }
        return -1;
    }

    private boolean allFinished() {
        for (Switchable m : machines) {
            if (!m.finished()) {
                return false;
            }
        }
        return true;
    }

    private void idleWait(boolean[] blocked) {
        idleWaits++;
        List<Machine> waiting = new ArrayList<>();
        CallDevice device = null;
        for (int i = 0; i < machines.size(); i++) {
            if (!machines.get(i).finished() && blocked[i] && machines.get(i) instanceof Machine m && m.callDevice() != null) {
                waiting.add(m);
                device = m.callDevice();
            }
        }
        long waitMillis = Math.max(1, Math.min(10, untilDeadline() / 1_000_000));
        if (device != null) {
            device.awaitAny(waiting, (int) waitMillis);
        } else {
            // Guests of a VMM's own whose waits the switcher cannot see: look again shortly.
            LockSupport.parkNanos(waitMillis * 1_000_000);
        }
    }

    /** {@return the switches made so far: each switch-in counts one, a machine's first included} */
    public long switches() {
        return switches;
    }

    /** {@return how many slices the quantum timer ended} */
    public long preemptions() {
        return preemptions;
    }

    /** {@return how many slices ended because the guest yielded the CPU} */
    public long yields() {
        return yields;
    }

    /** {@return how many slices ended because the guest waited for another VM} */
    public long blocks() {
        return blocks;
    }

    /** {@return how many times every remaining VM waited and the switcher slept on their doorbells} */
    public long idleWaits() {
        return idleWaits;
    }

    /** {@return the time from the end of one slice to the start of the next (hooks, scheduling, timer), live} */
    public LatencyRecorder switchLatency() {
        return switchLatency;
    }

    /** {@return the quantum, as constructed; each slice is this long unless {@link #randomizeQuantum} varies it} */
    public Duration quantum() {
        return quantum;
    }
}
