package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Several VMs on one host thread: results equal uninterrupted runs, whatever the switching. */
class SwitcherTest {
    private static final long ITERATIONS = 150;
    private static String expected;

    @BeforeAll
    static void uninterrupted() {
        KvmAvailable.assumeKvm();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", out, false, ITERATIONS)) {
            assertTrue(m.run(Duration.ofSeconds(60)).succeeded());
        }
        expected = Guests.line(out.toString(), "checksum=");
        assertFalse(expected.isEmpty(), "the compute guest printed its checksum");
    }

    private static void runSwitched(SwitchMode mode, Duration quantum, Long jitterSeed, int vms, long minSwitches) {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        List<Machine> machines = new ArrayList<>();
        try (Kvm kvm = Kvm.open()) {
            try {
                for (int i = 0; i < vms; i++) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    consoles.add(out);
                    machines.add(Guests.boot(kvm, "sse-compute.elf", out, i == 1, ITERATIONS));
                }
                ContextSwitchHook hook = new ContextSwitchHook(mode);
                List<String> trace = new ArrayList<>();
                Switcher s = new Switcher(machines, quantum).addHook(hook).addHook(new SwitchHook() {
                    @Override
                    public void afterSwitchIn(SwitchEvent e) {
                        if (trace.size() < 10) {
                            trace.add(e.machine().name() + ":" + e.reason());
                        }
                    }
                });
                if (jitterSeed != null) {
                    s.randomizeQuantum(jitterSeed);
                }
                List<RunResult> results = s.run(Duration.ofSeconds(120));
                for (int i = 0; i < vms; i++) {
                    assertTrue(results.get(i).succeeded(), results.get(i).toString());
                    assertEquals(expected, Guests.line(consoles.get(i).toString(), "checksum="),
                            mode + " switching changed VM " + i + "'s result");
                }
                assertTrue(s.switches() >= minSwitches, "switches: " + s.switches());
                assertEquals(s.switches() - vms, hook.restoreLatency().count(), "every switch-in after the first restored a context");
                assertTrue(trace.get(0).endsWith(":START"), trace.toString());
            } finally {
                machines.forEach(Machine::close);
            }
        }
    }

    @Test
    void warmSwitchingKeepsResultsExact() {
        runSwitched(SwitchMode.WARM, Duration.ofMillis(1), null, 3, 20);
    }

    @Test
    void coldSwitchingKeepsResultsExact() {
        // Each switch closes the VM and restores its context into a brand-new one.
        runSwitched(SwitchMode.COLD, Duration.ofMillis(3), null, 2, 20);
    }

    @Test
    void preemptionAtRandomPointsKeepsResultsExact() {
        runSwitched(SwitchMode.COLD, Duration.ofMillis(2), 42L, 2, 20);
    }
}
