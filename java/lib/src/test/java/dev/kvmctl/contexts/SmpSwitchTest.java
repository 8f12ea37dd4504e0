package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * SMP machines ({@code smp-counter.elf}: the vCPUs share a lock-free counter and pass a token
 * round robin through guest memory) switched warm on one thread, snapshotted, restored in new
 * machines, and switched cold to the end: every vCPU's state and the shared memory survive it all,
 * and the guest's own exact checks pass. The host watches the token in guest memory, so each phase
 * ends on counts (switches made, hops passed), whatever the CPU's speed.
 */
class SmpSwitchTest {
    /** Switches, and hops of every guest's token, each phase waits for. */
    private static final long SWITCHES = 20;
    private static final long HOPS = 12;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    private static Machine boot(Kvm kvm, int cpus, ByteArrayOutputStream console, boolean irqchip, long... args) {
        GuestConfig config = GuestConfig.builder(BuiltinImages.load("smp-counter.elf")).name("smp" + cpus).mode(CpuMode.LONG)
                .ring(3).cpus(cpus).irqchip(irqchip).args(args).console(new Console(console, null)).build();
        return Machine.boot(kvm, config);
    }

    /** The guest-physical address of the guest's shared state, from its first line, or -1 before it. */
    private static long state(ByteArrayOutputStream console) {
        return Guests.smpState(console.toString());
    }

    /**
     * Counts the switches made once every guest has started (printed its state's address), and
     * once {@link #SWITCHES} were made and every guest's token has gone {@link #HOPS} hops past
     * its baseline, does {@code action} to each guest, once.
     */
    static final class AfterProgress implements SwitchHook {
        private final List<Machine> machines;
        private final List<ByteArrayOutputStream> consoles;
        private final long[] states;
        private final long[] baseline;
        private final Consumer<Machine> action;
        private long counted;
        private boolean done;

        AfterProgress(List<Machine> machines, List<ByteArrayOutputStream> consoles, long[] states, long[] baseline,
                      Consumer<Machine> action) {
            this.machines = machines;
            this.consoles = consoles;
            this.states = states;
            this.baseline = baseline;
            this.action = action;
        }

        @Override
        public void afterSwitchIn(SwitchEvent e) {
            if (done) {
                return;
            }
            boolean far = true;
            for (int i = 0; i < machines.size(); i++) {
                if (states[i] < 0) {
                    states[i] = state(consoles.get(i));
                    if (states[i] < 0) {
                        return; // not started yet: the switch does not count
                    }
                }
                far &= token(machines.get(i), states[i]) >= baseline[i] + HOPS;
            }
            if (++counted >= SWITCHES && far) {
                machines.forEach(action);
                done = true;
            }
        }
    }

    private static long token(Machine m, long state) {
        return m.ram().getLong(state + 8);
    }

    @Test
    void smpGuestsKeepTalkingAcrossWarmAndColdSwitchesAndASnapshot(@TempDir Path dir) {
        int[] cpus = {2, 3};
        long[] states = {-1, -1};
        long[] atSnapshot = new long[2];
        long warmSwitches;
        List<Path> files = List.of(dir.resolve("a.snap"), dir.resolve("b.snap"));
        try (Kvm kvm = Kvm.open()) {
            // Warm: both SMP machines on this thread, every vCPU's context captured and restored at
            // each switch, until both have gone far enough; then they are stopped and snapshotted.
            List<ByteArrayOutputStream> consoles = List.of(new ByteArrayOutputStream(), new ByteArrayOutputStream());
            List<Machine> machines = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    machines.add(boot(kvm, cpus[i], consoles.get(i), false, 0, Guests.STOP_WORD));
                }
                AfterProgress stop = new AfterProgress(machines, consoles, states, new long[2], Machine::requestStop);
                Switcher warm = new Switcher(machines, Duration.ofMillis(1)).randomizeQuantum(11)
                        .addHook(new ContextSwitchHook(SwitchMode.WARM)).addHook(stop);
                List<RunResult> results = warm.run(Duration.ofMinutes(2));
                for (int i = 0; i < 2; i++) {
                    assertEquals(Outcome.STOPPED, results.get(i).outcome(), results.get(i) + "\n" + consoles.get(i));
                    atSnapshot[i] = token(machines.get(i), states[i]);
                    assertTrue(atSnapshot[i] >= HOPS, "the token went round before the snapshot");
                    Snapshot.write(machines.get(i), files.get(i), done -> {});
                    assertEquals(cpus[i], Snapshot.inspect(files.get(i)).cpus());
                }
                assertTrue(warm.switches() >= SWITCHES, warm.switches() + " switches");
                warmSwitches = warm.switches();
            } finally {
                machines.forEach(Machine::close);
            }

            // Cold: restored in new machines, a brand-new VM at every switch, until both have gone
            // far enough again; then told to finish, and each checks its result exactly.
            List<ByteArrayOutputStream> after = List.of(new ByteArrayOutputStream(), new ByteArrayOutputStream());
            List<Machine> restored = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    restored.add(Snapshot.restore(kvm, files.get(i), after.get(i)));
                    assertEquals(cpus[i], restored.get(i).config().cpus());
                    assertEquals(atSnapshot[i], token(restored.get(i), states[i]), "the shared memory came back");
                }
                AfterProgress finish = new AfterProgress(restored, after, states, atSnapshot, Guests::stop);
                Switcher cold = new Switcher(restored, Duration.ofMillis(1)).randomizeQuantum(12)
                        .addHook(new ContextSwitchHook(SwitchMode.COLD)).addHook(finish);
                List<RunResult> results = cold.run(Duration.ofMinutes(2));
                assertTrue(cold.switches() >= SWITCHES, cold.switches() + " switches");
                System.out.printf("smp-counter: %d warm switches, snapshot, %d cold switches%n", warmSwitches, cold.switches());
                for (int i = 0; i < 2; i++) {
                    String console = after.get(i).toString();
                    assertEquals(Outcome.EXITED, results.get(i).outcome(), results.get(i) + "\n" + console);
                    assertEquals(0, results.get(i).status(), console);
                    String last = Guests.line(console, " ok");
                    assertTrue(last.startsWith("smp-counter: cpus=" + cpus[i] + " token="), console);
                    long token = Guests.number(last, "token=");
                    assertTrue(token >= atSnapshot[i] + HOPS, console);
                    for (int k = 0; k < cpus[i]; k++) {
                        assertTrue(Guests.number(console, "cpu " + k + " hops=") >= token / cpus[i], console);
                    }
                }
            } finally {
                restored.forEach(Machine::close);
            }
        }
    }

    @Test
    void anSmpGuestWithAnInKernelIrqchipRunsToItsExactResult() {
        // With an in-kernel LAPIC the application processors would wait for INIT/SIPI; ours start runnable.
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = boot(kvm, 2, console, true, 30)) {
            RunResult r = m.run(Duration.ofMinutes(2));
            assertEquals(Outcome.EXITED, r.outcome(), r + "\n" + console);
            assertEquals(0, r.status(), console.toString());
            assertTrue(console.toString().contains("smp-counter: cpus=2 token=60 counter="), console.toString());
            assertTrue(console.toString().contains("smp-counter: cpu 1 hops=30 "), console.toString());
        }
    }
}
