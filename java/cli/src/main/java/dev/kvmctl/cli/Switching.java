package dev.kvmctl.cli;

import dev.kvmctl.contexts.ContextSwitchHook;
import dev.kvmctl.contexts.LatencyRecorder;
import dev.kvmctl.contexts.SwitchMode;
import dev.kvmctl.contexts.Switcher;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.VmPool;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The CLI's one-thread mode: a {@link Switcher} with the built-in context hook, and its report. */
final class Switching {
    private final Switcher switcher;
    private final ContextSwitchHook hook;

    Switching(List<Machine> machines, Duration quantum, SwitchMode mode) {
        this.hook = new ContextSwitchHook(mode);
        this.switcher = new Switcher(machines, quantum).addHook(hook);
    }

    /** Runs the machines, then closes the hook's pool of prepared VMs (cold): its counters stay readable. */
    List<RunResult> run(Duration timeout) {
        try {
            return switcher.run(timeout);
        } finally {
            hook.close();
        }
    }

    String summary() {
        return String.format(Locale.ROOT, "switching: %s, quantum %s: %d switches (%d quantum, %d yield, %d wait); "
                        + "switch %s; capture %s; restore %s",
                hook.mode().name().toLowerCase(Locale.ROOT), Sizes.format(switcher.quantum()), switcher.switches(), switcher.preemptions(),
                switcher.yields(), switcher.blocks(), switcher.switchLatency(), hook.captureLatency(), hook.restoreLatency());
    }

    Map<String, Object> report() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", hook.mode().name().toLowerCase(Locale.ROOT));
        m.put("quantum_us", switcher.quantum().toNanos() / 1e3);
        m.put("switches", switcher.switches());
        m.put("preemptions", switcher.preemptions());
        m.put("yields", switcher.yields());
        m.put("waits", switcher.blocks());
        m.put("switch_latency_us", latency(switcher.switchLatency()));
        m.put("capture_us", latency(hook.captureLatency()));
        m.put("restore_us", latency(hook.restoreLatency()));
        VmPool pool = hook.pool();
        if (pool != null) {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("takes", pool.takes());
            p.put("misses", pool.misses());
            p.put("prepared", pool.prepared());
            p.put("closed_in_background", pool.closedInBackground());
            p.put("closed_on_switch", pool.closedBySwitchThread());
            m.put("prepared_vms", p);
        }
        return m;
    }

    private static Map<String, Object> latency(LatencyRecorder r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("count", r.count());
        m.put("mean", r.meanNanos() / 1e3);
        m.put("p50", r.percentile(50) / 1e3);
        m.put("p99", r.percentile(99) / 1e3);
        m.put("max", r.percentile(100) / 1e3);
        return m;
    }
}
