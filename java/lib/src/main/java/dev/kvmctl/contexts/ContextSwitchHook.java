package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * The built-in switch hook: stores the outgoing machine's context (hypervisor level, then vCPU)
 * and loads the incoming one's, warm (same VM) or cold (a brand-new VM). Measures capture and
 * restore time for the switcher's statistics.
 *
 * <pre>{@code
 * Switcher s = new Switcher(machines, Duration.ofMillis(1));
 * s.addHook(new ContextSwitchHook(SwitchMode.COLD));
 * }</pre>
 */
public final class ContextSwitchHook implements SwitchHook {
    private final SwitchMode mode;
    private final Map<Machine, MachineContext> contexts = new IdentityHashMap<>();
    private final LatencyRecorder capture = new LatencyRecorder();
    private final LatencyRecorder restore = new LatencyRecorder();

    public ContextSwitchHook(SwitchMode mode) {
        this.mode = mode;
    }

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
            m.discardVm();
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
        if (mode == SwitchMode.COLD) {
            m.rebuildVm();
        }
        ctx.restore(m);
        restore.record(System.nanoTime() - t0);
    }

    /** Time to capture (and, cold, to close the VM) per switch-out. */
    public LatencyRecorder captureLatency() {
        return capture;
    }

    /** Time to restore (and, cold, to build the VM) per switch-in. */
    public LatencyRecorder restoreLatency() {
        return restore;
    }

    /** The context last captured from {@code machine}, or null. */
    public MachineContext contextOf(Machine machine) {
        return contexts.get(machine);
    }
}
