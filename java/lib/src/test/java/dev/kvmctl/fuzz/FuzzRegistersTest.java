package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.KvmException;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.soak.ProcessResources;
import dev.kvmctl.state.Cpuid;
import dev.kvmctl.state.DebugRegs;
import dev.kvmctl.state.Fpu;
import dev.kvmctl.state.KvmStruct;
import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.MpState;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.VcpuEvents;
import dev.kvmctl.state.Xsave;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Guest register states from random bytes: Regs, SRegs (whole or a few bytes flipped from a real
 * reset, real-mode or long-mode state) and sometimes FPU, XSAVE, vCPU events, debug registers, MP
 * state and the local APIC are filled with random bytes and set (a {@link KvmException} is a fine
 * answer), then the vCPU runs over RAM holding random bytes, {@code hlt}s, zeros or a real guest,
 * on another thread that {@link Vcpu#kick()} stops after a few milliseconds. Every run must end in
 * a typed {@link VmExit} or a {@link KvmException}: nothing else, no hang, no crash.
 *
 * <p>{@code -Dkvmctl.fuzz.seed=N} repeats a run; {@code -Dkvmctl.fuzz.scale=K} multiplies the tries.
 */
class FuzzRegistersTest {
    static final long SEED = Long.getLong("kvmctl.fuzz.seed", System.nanoTime());
    static final int SCALE = Integer.getInteger("kvmctl.fuzz.scale", 1);
    private static final int TRIES = 1000;
    private static final int RAM = 2 << 20;
    private static final int MAX_EXITS = 64;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
        System.out.println("fuzz: FuzzRegistersTest seed " + SEED + " (-Dkvmctl.fuzz.seed to repeat)");
    }

    @Test
    void randomRegisterStatesEndInATypedExitOrAKvmException() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Tally sets = new Tally("register sets");
        Tally ends = new Tally("runs after random state");
        byte[] noise = new byte[2 * RAM];
        rnd.nextBytes(noise);
        byte[] hello = BuiltinImages.bytes(BuiltinImages.find("hello-long.elf").orElseThrow());
        ExecutorService runner = Executors.newSingleThreadExecutor(r -> new Thread(r, "fuzz-vcpu"));
        ProcessResources before = ProcessResources.take(false);
        try (Kvm kvm = Kvm.open()) {
            Cpuid cpuid = kvm.supportedCpuid();
            int xsaveSize = kvm.xsaveSize();
            for (int i = 0; i < TRIES * SCALE; i++) {
                boolean irqchip = rnd.nextInt(8) == 0;
                try (GuestMemory ram = GuestMemory.anonymous(RAM); Vm vm = kvm.createVm()) {
                    vm.mapMemory(0, ram);
                    if (irqchip) {
                        vm.createIrqchip();
                    }
                    switch (rnd.nextInt(6)) {
                        case 0, 1 -> ram.write(0, noise, rnd.nextInt(RAM), RAM);
                        case 2 -> ram.fill(0, RAM, (byte) 0xf4);                    // hlt everywhere
                        case 3 -> ram.fill(0, RAM, (byte) 0x00);                    // add [rax], al everywhere
                        default -> ram.write(0x100000, hello, 0x1000, 0x1000);      // hello-long's code
                    }
                    Vcpu vcpu = vm.createVcpu(0);
                    String start = startState(rnd.nextInt(4), vcpu, ram, cpuid);

                    // Registers: wholly random, or a real state with a few bytes flipped.
                    Regs regs = vcpu.getRegs();
                    scramble(regs, rnd, rnd.nextBoolean());
                    sets.add("regs " + Tally.of(set(() -> vcpu.setRegs(regs))));
                    SRegs sregs = vcpu.getSregs();
                    int how = rnd.nextInt(10);
                    if (how < 7) {
                        scramble(sregs, rnd, how == 0);
                        sets.add("sregs " + outcome(set(() -> vcpu.setSregs(sregs))));
                    }
                    if (rnd.nextInt(5) == 0) {
                        Fpu fpu = new Fpu();
                        scramble(fpu, rnd, true);
                        sets.add("fpu " + outcome(set(() -> vcpu.setFpu(fpu))));
                    }
                    if (rnd.nextInt(5) == 0) {
                        Xsave xsave = vcpu.getXsave(new Xsave(xsaveSize));
                        scramble(xsave, rnd, rnd.nextBoolean());
                        sets.add("xsave " + outcome(set(() -> vcpu.setXsave(xsave))));
                    }
                    if (rnd.nextInt(5) == 0) {
                        VcpuEvents events = vcpu.getVcpuEvents(new VcpuEvents());
                        scramble(events, rnd, rnd.nextBoolean());
                        sets.add("events " + outcome(set(() -> vcpu.setVcpuEvents(events))));
                    }
                    if (rnd.nextInt(6) == 0) {
                        DebugRegs dr = new DebugRegs();
                        scramble(dr, rnd, true);
                        sets.add("debugregs " + outcome(set(() -> vcpu.setDebugRegs(dr))));
                    }
                    if (rnd.nextInt(8) == 0) {
                        MpState mp = new MpState();
                        scramble(mp, rnd, true);
                        sets.add("mpstate " + outcome(set(() -> vcpu.setMpState(mp))));
                    }
                    if (irqchip && rnd.nextBoolean()) {
                        Lapic lapic = vcpu.getLapic(new Lapic());
                        scramble(lapic, rnd, rnd.nextBoolean());
                        sets.add("lapic " + outcome(set(() -> vcpu.setLapic(lapic))));
                    }
                    ends.add(start + " -> " + run(vcpu, runner, rnd, "try " + i + " (seed " + SEED + ")"));
                }
            }
        } finally {
            runner.shutdownNow();
            runner.awaitTermination(10, TimeUnit.SECONDS);
        }
        sets.print();
        ends.print();
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), "leaks: " + leaks);
    }

    private static String startState(int which, Vcpu vcpu, GuestMemory ram, Cpuid cpuid) {
        switch (which) {
            case 0:
                return "reset";
            case 1:
                BootSetup.realMode(vcpu, 0x7c00);
                return "real";
            default:
                int ring = which == 2 ? 0 : 3;
                BootSetup.longMode(vcpu, ram, cpuid, ring, 0x100000, RAM, BootInfo.single(RAM));
                return "long" + ring;
        }
    }

    /** Fills the struct with random bytes ({@code whole}) or flips 1 to 8 random bytes of it. */
    private static void scramble(KvmStruct s, SplittableRandom rnd, boolean whole) {
        byte[] b = s.toByteArray();
        if (whole) {
            rnd.nextBytes(b);
        } else {
            for (int k = 0, n = 1 + rnd.nextInt(8); k < n; k++) {
                b[rnd.nextInt(b.length)] ^= (byte) (1 + rnd.nextInt(255));
            }
        }
        s.load(b);
    }

    private static Throwable set(Runnable call) {
        try {
            call.run();
            return null;
        } catch (KvmException e) {
            return e;
        } catch (Throwable t) {
            throw new AssertionError("setting a random state threw " + t + " instead of KvmException", t);
        }
    }

    private static String outcome(Throwable t) {
        return t instanceof KvmException k ? "KvmException " + k.errnoName() : Tally.of(t);
    }

    /**
     * Runs the vCPU on the runner thread for up to {@link #MAX_EXITS} exits, answering port and
     * MMIO reads, while this thread kicks it every few milliseconds. Returns the last exit's kind.
     */
    private static String run(Vcpu vcpu, ExecutorService runner, SplittableRandom rnd, String what) throws Exception {
        Future<String> f = runner.submit(() -> {
            String last = "none";
            for (int n = 0; n < MAX_EXITS; n++) {
                VmExit exit;
                try {
                    exit = vcpu.run();
                } catch (KvmException e) {
                    return "KvmException " + e.operation() + " " + e.errnoName();
                }
                last = exit.kind().label();
                if (exit instanceof VmExit.IoIn in) {
                    in.answer(0xff);
                } else if (exit instanceof VmExit.MmioRead r) {
                    r.answer(0);
                } else if (!(exit instanceof VmExit.IoOut || exit instanceof VmExit.MmioWrite || exit instanceof VmExit.Debug
                        || exit instanceof VmExit.IrqWindowOpen)) {
                    return last; // hlt, shutdown, fail-entry, internal-error, interrupted, ...: the run is over
                }
            }
            return last + " (" + MAX_EXITS + " exits)";
        });
        Thread.sleep(1 + rnd.nextInt(4));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        while (true) {
            vcpu.kick();
            try {
                return f.get(5, TimeUnit.MILLISECONDS);
            } catch (TimeoutException e) {
                if (System.nanoTime() - deadline > 0) {
                    f.cancel(true);
                    fail(what + ": the vCPU did not stop after 10 s of kicks");
                }
            } catch (java.util.concurrent.ExecutionException e) {
                throw new AssertionError(what + ": the run threw " + e.getCause() + " instead of a typed exit", e.getCause());
            }
        }
    }
}
