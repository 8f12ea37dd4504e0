package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
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

/**
 * Several VMs on one host thread: results equal uninterrupted runs, whatever the switching.
 *
 * <p>The guests run "until stopped" (see {@link Guests}): they compute until the host has switched
 * them as often as the test needs, and only then are told to finish. Each then reports how much
 * work it did, and its result must equal an unswitched run of that much work. No verdict depends
 * on how fast this CPU runs the guests; the switcher's time limit is only a safety net, and hitting
 * it fails the test.
 */
class SwitcherTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /**
     * Counts the switches made once every guest is inside its loop (has printed its marker line),
     * and after {@code needed} of them sets every guest's stop word.
     */
    static final class StopAfterSwitches implements SwitchHook {
        private final List<Machine> machines;
        private final List<ByteArrayOutputStream> consoles;
        private final String marker;
        private final long needed;
        private boolean counting;
        private long counted;
        private boolean stopped;

        StopAfterSwitches(List<Machine> machines, List<ByteArrayOutputStream> consoles, String marker, long needed) {
            this.machines = machines;
            this.consoles = consoles;
            this.marker = marker;
            this.needed = needed;
        }

        @Override
        public void afterSwitchIn(SwitchEvent e) {
            if (stopped) {
                return;
            }
            if (!counting) {
                counting = consoles.stream().allMatch(c -> Guests.inLoop(c, marker));
                return;
            }
            // The guests never end by themselves, so every slice until now ended by preemption.
            assertEquals(SwitchEvent.Reason.QUANTUM, e.reason(), "a guest ended before it was told to");
            if (++counted >= needed) {
                machines.forEach(Guests::stop);
                stopped = true;
            }
        }

        long counted() {
            return counted;
        }
    }

    private static void runSwitched(SwitchMode mode, Duration quantum, Long jitterSeed, int vms, long switches) {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        List<Machine> machines = new ArrayList<>();
        try (Kvm kvm = Kvm.open(); ContextSwitchHook hook = new ContextSwitchHook(mode)) {
            try {
                for (int i = 0; i < vms; i++) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    consoles.add(out);
                    machines.add(Guests.sseUntilStopped(kvm, out, i == 1));
                }
                StopAfterSwitches stopper = new StopAfterSwitches(machines, consoles, Guests.SSE_COMPUTING, switches);
                List<String> trace = new ArrayList<>();
                Switcher s = new Switcher(machines, quantum).addHook(hook).addHook(stopper).addHook(new SwitchHook() {
                    @Override
                    public void afterSwitchIn(SwitchEvent e) {
                        if (trace.size() < 10) {
                            trace.add(e.guest().name() + ":" + e.reason());
                        }
                    }
                });
                if (jitterSeed != null) {
                    s.randomizeQuantum(jitterSeed);
                }
                List<RunResult> results = s.run(Duration.ofSeconds(120));
                for (int i = 0; i < vms; i++) {
                    assertTrue(results.get(i).succeeded(), results.get(i) + "\n" + consoles.get(i));
                    assertSseResultExact(consoles.get(i).toString(), mode + " switching changed VM " + i + "'s result");
                }
                assertEquals(switches, stopper.counted(), "switches while every guest computed");
                assertEquals(s.switches() - vms, hook.restoreLatency().count(), "every switch-in after the first restored a context");
                assertTrue(trace.get(0).endsWith(":START"), trace.toString());
            } finally {
                machines.forEach(Machine::close);
            }
        }
    }

    /**
     * A stopped sse-compute printed its start line, then exactly what an unswitched run of the
     * iterations it reports prints.
     */
    static void assertSseResultExact(String console, String message) {
        int firstLine = console.indexOf('\n') + 1;
        assertTrue(console.startsWith(Guests.SSE_COMPUTING) && firstLine > 0, console);
        String result = console.substring(firstLine);
        long iterations = Guests.number(result, "sse-compute: iterations=");
        assertTrue(iterations >= 1, "it computed before it was stopped: " + console);
        String reference = Guests.reference("sse-compute.elf", iterations);
        assertEquals(reference, result, message);
        assertEquals(console.substring(Guests.SSE_COMPUTING.length(), firstLine),
                reference.substring(reference.indexOf("simd=") + 5, reference.indexOf('\n') + 1), "the same code path");
    }

    @Test
    void warmSwitchingKeepsResultsExact() {
        runSwitched(SwitchMode.WARM, Duration.ofMillis(1), null, 3, 60);
    }

    @Test
    void coldSwitchingKeepsResultsExact() {
        // Each switch closes the VM and restores its context into a brand-new one.
        runSwitched(SwitchMode.COLD, Duration.ofMillis(3), null, 2, 60);
    }

    @Test
    void preemptionAtRandomPointsKeepsResultsExact() {
        runSwitched(SwitchMode.COLD, Duration.ofMillis(2), 42L, 2, 60);
    }

    /**
     * The state-keeper guest holds its whole computation in GPRs, the carry flag, XMM/YMM and the
     * FS base MSR; thousands of cold switches at random points must not change one bit of it. The
     * guests keep computing until 2,000 cold switches have happened while both were in their loop.
     * Neither has an in-kernel irqchip: closing a VM with one costs 7-15 ms here (BUILD-NOTES), which
     * would make 2,000 switches take minutes; the cold switches of an irqchip VM are covered by
     * {@link #coldSwitchingKeepsResultsExact} and {@code ContextRoundTripTest}.
     */
    @Test
    void registerStateSurvivesThousandsOfColdSwitches() {
        long needed = 2000;
        List<ByteArrayOutputStream> consoles = List.of(new ByteArrayOutputStream(), new ByteArrayOutputStream());
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.keeperUntilStopped(kvm, consoles.get(0), false);
             Machine b = Guests.keeperUntilStopped(kvm, consoles.get(1), false);
             ContextSwitchHook cold = new ContextSwitchHook(SwitchMode.COLD)) {
            StopAfterSwitches stopper = new StopAfterSwitches(List.of(a, b), consoles, Guests.KEEPER_COMPUTING, needed);
            Switcher s = new Switcher(List.of(a, b), Duration.ofNanos(200_000)).randomizeQuantum(7)
                    .addHook(cold).addHook(stopper);
            long start = System.nanoTime();
            List<RunResult> results = s.run(Duration.ofSeconds(240));
            for (int i = 0; i < 2; i++) {
                String console = consoles.get(i).toString();
                assertTrue(results.get(i).succeeded(), results.get(i).detail() + "\n" + console);
                long rounds = Guests.number(console, "state-keeper: ran=");
                assertTrue(rounds > 0, console);
                String reference = Guests.reference("state-keeper.elf", rounds);
                assertEquals(Guests.line(reference, "gprs="), Guests.line(console, "gprs="), "registers after " + rounds + " rounds");
                assertEquals(Guests.line(reference, "checksum="), Guests.line(console, "checksum="), console);
            }
            assertEquals(needed, stopper.counted());
            assertTrue(cold.restoreLatency().count() >= needed, "thousands of cold switches, got " + cold.restoreLatency().count());
            System.out.printf("state-keeper: %d cold switches in %.1f s (capture %s, restore %s), %d / %d rounds%n",
                    cold.restoreLatency().count(), (System.nanoTime() - start) / 1e9, cold.captureLatency(),
                    cold.restoreLatency(), Guests.number(consoles.get(0).toString(), "ran="),
                    Guests.number(consoles.get(1).toString(), "ran="));
        }
    }
}
