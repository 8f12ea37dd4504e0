package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Switchable;
import dev.kvmctl.guests.VmPool;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The built-in switch hook: stores the outgoing guest's {@link VmContext} (hypervisor level with
 * its device states, then every vCPU) and loads the incoming one's, warm (same VM) or cold (a
 * brand-new VM). Works with any {@link Switchable}: it completes the guest's pending I/O, then
 * captures from its VM and devices ({@link Switchable#requireVm()},
 * {@link Switchable#deviceStates()}); cold, it discards the VM and has the guest rebuild it.
 * Measures capture and restore time for the switcher's statistics.
 *
 * <pre>{@code
 * try (ContextSwitchHook contexts = new ContextSwitchHook(SwitchMode.COLD)) {
 *     Switcher s = new Switcher(List.of(machine), Duration.ofMillis(1)).addHook(contexts);
 *     s.run(Duration.ofSeconds(10));
 *     System.out.println("capture " + contexts.captureLatency() + ", restore " + contexts.restoreLatency());
 * }
 * }</pre>
 *
 * <p>Keeps one {@link VmContext} per guest, reused at every switch. Cold, a {@link Machine}'s new
 * VMs come from a {@link VmPool} (made ahead of time on another thread; retired ones closed there
 * too), started at the first cold switch-out: {@link #close()} the hook after the run to close it.
 * Other guests discard and rebuild their VM themselves ({@link Switchable#discardVm()},
 * {@link Switchable#rebuildVm()}). Used by one switcher's thread; not for sharing between switchers.
 */
public final class ContextSwitchHook implements SwitchHook, AutoCloseable {
    private final SwitchMode mode;
    private final Map<Switchable, VmContext> contexts = new IdentityHashMap<>();
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
        Switchable m = event.guest();
        if (m.finished()) {
            return;
        }
        long t0 = System.nanoTime();
        m.completePendingIo();
        contexts.computeIfAbsent(m, g -> new VmContext(g.requireVm())).capture(m.requireVm(), m.deviceStates());
        if (mode == SwitchMode.COLD) {
            if (m instanceof Machine machine) {
                if (pool == null) {
                    pool = new VmPool();
                }
                // closed in the background; the next VM is being made meanwhile, its CPUID set ahead
                pool.retire(machine, contexts.get(m).vcpu(0).cpuid());
            } else {
                m.discardVm();
            }
        }
        capture.record(System.nanoTime() - t0);
    }

    @Override
    public void afterSwitchIn(SwitchEvent event) {
        Switchable m = event.guest();
        VmContext ctx = contexts.get(m);
        if (ctx == null) {
            return; // first run: the vCPU is still in its boot state
        }
        long t0 = System.nanoTime();
        boolean cpuidSet = false;
        if (mode == SwitchMode.COLD) {
            if (m instanceof Machine machine) {
                cpuidSet = pool.install(machine);
            } else {
                m.rebuildVm();
            }
        }
        ctx.restore(m.requireVm(), m.deviceStates(), !cpuidSet);
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
     * Looks up what the hook keeps for a guest.
     *
     * @param guest one of the switcher's guests
     * @return the context last captured from it, or null if it has not been switched out yet
     */
    public VmContext contextOf(Switchable guest) {
        return contexts.get(guest);
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
