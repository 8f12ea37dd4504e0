package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.VmPool;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The built-in switch hook: stores the outgoing machine's context (hypervisor level, then vCPU)
 * and loads the incoming one's, warm (same VM) or cold (a brand-new VM). Measures capture and
 * restore time for the switcher's statistics.
 *
 * <pre>{@code
 * try (ContextSwitchHook contexts = new ContextSwitchHook(SwitchMode.COLD)) {
 *     Switcher s = new Switcher(List.of(machine), Duration.ofMillis(1)).addHook(contexts);
 *     s.run(Duration.ofSeconds(10));
 *     System.out.println("capture " + contexts.captureLatency() + ", restore " + contexts.restoreLatency());
 * }
 * }</pre>
 *
 * <p>Keeps one {@link MachineContext} per machine, reused at every switch. Cold, the new VMs come
 * from a {@link VmPool} (made ahead of time on another thread; retired ones closed there too),
 * started at the first cold switch-out: {@link #close()} the hook after the run to close it. Used
 * by one switcher's thread; not for sharing between switchers.
 */
public final class ContextSwitchHook implements SwitchHook, AutoCloseable {
    private final SwitchMode mode;
    private final Map<Machine, MachineContext> contexts = new IdentityHashMap<>();
    private final LatencyRecorder capture = new LatencyRecorder();
    private final LatencyRecorder restore = new LatencyRecorder();
    /** Cold only: made at the first switch-out. */
    private VmPool pool;

    /**
     * A hook that switches {@code mode}.
     *
     * @param mode warm (same VM) or cold (a brand-new VM at every switch-in)
     */
    public ContextSwitchHook(SwitchMode mode) {
        this.mode = mode;
    }

    /** {@return whether it switches warm or cold, as constructed} */
    public SwitchMode mode() {
        return mode;
    }

    @Override
    public void beforeSwitchOut(SwitchEvent event) {
        Machine m = event.machine();
        if (m.finished()) {
            return;
        }
        long t0 = System.nanoTime();
        contexts.computeIfAbsent(m, MachineContext::new).capture(m);
        if (mode == SwitchMode.COLD) {
            if (pool == null) {
                pool = new VmPool();
            }
            // closed in the background; the next VM is being made meanwhile, its CPUID set ahead
            pool.retire(m, contexts.get(m).vcpu().cpuid());
        }
        capture.record(System.nanoTime() - t0);
    }

    @Override
    public void afterSwitchIn(SwitchEvent event) {
        Machine m = event.machine();
        MachineContext ctx = contexts.get(m);
        if (ctx == null) {
            return; // first run: the vCPU is still in its boot state
        }
        long t0 = System.nanoTime();
        boolean cpuidSet = mode == SwitchMode.COLD && pool.install(m);
        ctx.restore(m, !cpuidSet);
        restore.record(System.nanoTime() - t0);
    }

    /** {@return the time to capture (and, cold, to hand the VM to the closer) of every switch-out so far, live} */
    public LatencyRecorder captureLatency() {
        return capture;
    }

    /** {@return the time to restore (and, cold, to install a prepared VM) of every switch-in so far, live} */
    public LatencyRecorder restoreLatency() {
        return restore;
    }

    /**
     * Looks up what the hook keeps for a machine.
     *
     * @param machine one of the switcher's machines
     * @return the context last captured from it, or null if it has not been switched out yet
     */
    public MachineContext contextOf(Machine machine) {
        return contexts.get(machine);
    }

    /** {@return the pool of prepared VMs of a cold hook; null before its first switch-out, and always when warm} */
    public VmPool pool() {
        return pool;
    }

    /**
     * Closes the pool of a cold hook: every VM prepared or retired and not yet closed, and its
     * threads. The machines keep their current VMs. Idempotent; does nothing when warm.
     */
    @Override
    public void close() {
        if (pool != null) {
            pool.close();
        }
    }
}
