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

    /**
     * The state-keeper guest holds its whole computation in GPRs, the carry flag, XMM/YMM and the
     * FS base MSR; thousands of cold switches at random points must not change one bit of it.
     */
    @Test
    void registerStateSurvivesThousandsOfColdSwitches() {
        long rounds = 3_000_000;
        ByteArrayOutputStream plain = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "state-keeper.elf", plain, false, rounds)) {
            assertTrue(m.run(Duration.ofSeconds(60)).succeeded(), plain.toString());
        }
        String want = Guests.line(plain.toString(), "checksum=");
        assertFalse(want.isEmpty(), plain.toString());
        List<ByteArrayOutputStream> consoles = List.of(new ByteArrayOutputStream(), new ByteArrayOutputStream());
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.boot(kvm, "state-keeper.elf", consoles.get(0), false, rounds);
             Machine b = Guests.boot(kvm, "state-keeper.elf", consoles.get(1), true, rounds)) {
            Switcher s = new Switcher(List.of(a, b), Duration.ofNanos(200_000)).randomizeQuantum(7)
                    .addHook(new ContextSwitchHook(SwitchMode.COLD));
            List<RunResult> results = s.run(Duration.ofSeconds(240));
            for (int i = 0; i < 2; i++) {
                assertTrue(results.get(i).succeeded(), results.get(i).detail());
                assertEquals(want, Guests.line(consoles.get(i).toString(), "checksum="), consoles.get(i).toString());
            }
            assertTrue(s.switches() >= 1000, "thousands of cold switches, got " + s.switches());
        }
    }

    @Test
    void preemptionAtRandomPointsKeepsResultsExact() {
        runSwitched(SwitchMode.COLD, Duration.ofMillis(2), 42L, 2, 20);
    }
}
