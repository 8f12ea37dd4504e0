package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Guest register states from random values, in three parts, each with what the guest must then do:
 *
 * <ul>
 * <li><b>Values</b>: all sixteen general registers and the arithmetic and direction flags set to
 *     random values at ring 3 or 0, over code that stores every register and RFLAGS to memory and
 *     writes 0x5a to port 0xf4. The run must end in exactly that {@code io-out}, the stored values
 *     must be exactly the ones set, and the registers read back afterwards too.
 * <li><b>Instruction pointer</b>: RIP anywhere in RAM full of {@code hlt}s: at ring 0 the run must
 *     end in {@code hlt}; at ring 3, where {@code hlt} faults and there is no IDT, in
 *     {@code shutdown} (a triple fault).
 * <li><b>Chaos</b>: Regs and SRegs (whole or a few bytes flipped from a real reset, real-mode or
 *     long-mode state) and sometimes the FPU, XSAVE, vCPU events, debug registers, MP state and
 *     local APIC filled with random bytes; a refused set must be a {@link KvmException} naming its
 *     ioctl; the vCPU then runs over random bytes, {@code hlt}s, zeros or a real guest on another
 *     thread that {@link Vcpu#kick()} stops after a few milliseconds, and must end in a typed
 *     {@link VmExit} (never {@code unknown}) or a {@link KvmException}: no hang, no crash.
 * </ul>
 *
 * <p>{@code -Dkvmctl.fuzz.seed=N} repeats a run; {@code -Dkvmctl.fuzz.scale=K} multiplies the tries.
 */
class FuzzRegistersTest {
    static final long SEED = Long.getLong("kvmctl.fuzz.seed", System.nanoTime());
    static final int SCALE = Integer.getInteger("kvmctl.fuzz.scale", 1);
    private static final int TRIES = 1000;
    private static final int RAM = 2 << 20;
    private static final int MAX_EXITS = 64;

    /** The typed exits a random state can lead to; {@code unknown} (an exit kvmctl cannot decode) is not among them. */
    private static final Set<String> KNOWN_EXITS = Set.of("io-out", "io-in", "mmio-read", "mmio-write", "hlt", "shutdown",
            "fail-entry", "internal-error", "system-event", "debug", "interrupted", "exception", "hypercall", "irq-window-open");

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
        System.out.println("fuzz: FuzzRegistersTest seed " + SEED + " (-Dkvmctl.fuzz.seed to repeat)");
    }

    @Test
    void randomStatesEndInATypedExitOrAKvmException() throws Exception {
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
                    sets.add("regs " + outcome(set("KVM_SET_REGS", () -> vcpu.setRegs(regs))));
                    SRegs sregs = vcpu.getSregs();
                    int how = rnd.nextInt(10);
                    if (how < 7) {
                        scramble(sregs, rnd, how == 0);
                        sets.add("sregs " + outcome(set("KVM_SET_SREGS", () -> vcpu.setSregs(sregs))));
                    }
                    if (rnd.nextInt(5) == 0) {
                        Fpu fpu = new Fpu();
                        scramble(fpu, rnd, true);
                        sets.add("fpu " + outcome(set("KVM_SET_FPU", () -> vcpu.setFpu(fpu))));
                    }
                    if (rnd.nextInt(5) == 0) {
                        Xsave xsave = vcpu.getXsave(new Xsave(xsaveSize));
                        scramble(xsave, rnd, rnd.nextBoolean());
                        sets.add("xsave " + outcome(set("KVM_SET_XSAVE", () -> vcpu.setXsave(xsave))));
                    }
                    if (rnd.nextInt(5) == 0) {
                        VcpuEvents events = vcpu.getVcpuEvents(new VcpuEvents());
                        scramble(events, rnd, rnd.nextBoolean());
                        sets.add("events " + outcome(set("KVM_SET_VCPU_EVENTS", () -> vcpu.setVcpuEvents(events))));
                    }
                    if (rnd.nextInt(6) == 0) {
                        DebugRegs dr = new DebugRegs();
                        scramble(dr, rnd, true);
                        sets.add("debugregs " + outcome(set("KVM_SET_DEBUGREGS", () -> vcpu.setDebugRegs(dr))));
                    }
                    if (rnd.nextInt(8) == 0) {
                        MpState mp = new MpState();
                        scramble(mp, rnd, true);
                        sets.add("mpstate " + outcome(set("KVM_SET_MP_STATE", () -> vcpu.setMpState(mp))));
                    }
                    if (irqchip && rnd.nextBoolean()) {
                        Lapic lapic = vcpu.getLapic(new Lapic());
                        scramble(lapic, rnd, rnd.nextBoolean());
                        sets.add("lapic " + outcome(set("KVM_SET_LAPIC", () -> vcpu.setLapic(lapic))));
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

    // ---- values: what was set is what the guest sees ----

    private static final long CODE = 0x100000, RESULTS = 0x180000, STACK_LOW = 0x1c0000, STACK_HIGH = 0x1f0000;
    /** x86 register numbers of {@link Regs#NAMES}' first sixteen (rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp, r8..r15). */
    private static final int[] ENCODING = {0, 3, 1, 2, 6, 7, 4, 5, 8, 9, 10, 11, 12, 13, 14, 15};
    /** CF, PF, AF, ZF, SF, DF, OF: the flags any value of which a guest may run with. */
    private static final long FREE_FLAGS = 1L | 1L << 2 | 1L << 4 | 1L << 6 | 1L << 7 | 1L << 10 | 1L << 11;
    private static final int EXIT_PORT = 0xf4, EXIT_VALUE = 0x5a;

    /**
     * Long-mode code that stores the sixteen general registers at {@link #RESULTS} (in
     * {@link Regs#NAMES} order) and RFLAGS after them, then writes {@link #EXIT_VALUE} to port
     * {@link #EXIT_PORT}: {@code mov [abs32], reg} x 16; {@code pushfq; pop qword [abs32]};
     * {@code mov al, 0x5a; out 0xf4, al}.
     */
    static byte[] storeEverything() {
        ByteBuffer code = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < 16; i++) {
            int reg = ENCODING[i];
            code.put((byte) (0x48 | (reg >= 8 ? 0x04 : 0))).put((byte) 0x89).put((byte) (0x04 | (reg & 7) << 3)).put((byte) 0x25)
                    .putInt((int) (RESULTS + 8L * i));
        }
        code.put((byte) 0x9c).put((byte) 0x8f).put((byte) 0x04).put((byte) 0x25).putInt((int) (RESULTS + 8L * 16));
        code.put((byte) 0xb0).put((byte) EXIT_VALUE).put((byte) 0xe6).put((byte) EXIT_PORT);
        code.put((byte) 0xf4); // hlt: never reached
        return Arrays.copyOf(code.array(), code.position());
    }

    /**
     * Random values in every general register (RSP somewhere in a free stack area, any alignment)
     * and the free flags, at ring 3 or 0: the guest must store exactly those values and exit
     * through port 0xf4, and the vCPU must hold them afterwards (RAX's low byte excepted).
     */
    @Test
    void randomRegisterValuesAreWhatTheGuestSees() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Tally tally = new Tally("register values seen by the guest");
        byte[] code = storeEverything();
        ProcessResources before = ProcessResources.take(false);
        try (Kvm kvm = Kvm.open()) {
            Cpuid cpuid = kvm.supportedCpuid();
            for (int i = 0; i < 300 * SCALE; i++) {
                int ring = rnd.nextBoolean() ? 3 : 0;
                try (GuestMemory ram = GuestMemory.anonymous(RAM); Vm vm = kvm.createVm()) {
                    vm.mapMemory(0, ram);
                    ram.write(CODE, code);
                    Vcpu vcpu = vm.createVcpu(0);
                    BootSetup.longMode(vcpu, ram, cpuid, ring, CODE, RAM, BootInfo.single(RAM));
                    Regs regs = vcpu.getRegs();
                    long[] set = new long[17];
                    for (int r = 0; r < 16; r++) {
                        set[r] = r == 6 ? STACK_LOW + 8 + rnd.nextLong(STACK_HIGH - STACK_LOW - 8) : interesting(rnd);
                        regs.set(r, set[r]);
                    }
                    set[16] = regs.rflags() & ~FREE_FLAGS | rnd.nextLong() & FREE_FLAGS;
                    regs.rflags(set[16]);
                    vcpu.setRegs(regs);
                    String what = String.format("try %d (ring %d, seed %d)", i, ring, SEED);
                    VmExit exit = vcpu.run();
                    if (!(exit instanceof VmExit.IoOut out) || out.port() != EXIT_PORT || out.size() != 1 || out.value() != EXIT_VALUE) {
                        throw new AssertionError(what + ": the guest must store its registers and write 0x5a to port 0xf4, but exited "
                                + exit + (exit instanceof VmExit.IoOut o ? " value 0x" + Integer.toHexString(o.value()) : ""));
                    }
                    for (int r = 0; r <= 16; r++) {
                        long seen = ram.getLong(RESULTS + 8L * r);
                        // RFLAGS: the flags set here, and bit 1. Not IOPL: under KVM's PVM backend ring-3
                        // code runs natively and sees the host's IOPL 0, where hardware KVM shows 3.
                        long mask = r == 16 ? FREE_FLAGS | 2 : -1L;
                        if ((seen & mask) != (set[r] & mask)) {
                            throw new AssertionError(String.format("%s: %s was set to 0x%x, the guest saw 0x%x", what,
                                    r == 16 ? "rflags" : Regs.NAMES[r], set[r], seen));
                        }
                    }
                    Regs after = vcpu.getRegs();
                    assertEquals(set[0] & ~0xffL | EXIT_VALUE, after.rax(), what + ": rax after mov al, 0x5a");
                    for (int r = 1; r < 16; r++) {
                        assertEquals(set[r], after.get(r), what + ": " + Regs.NAMES[r] + " after the run");
                    }
                    tally.add("ring " + ring + ": stored exactly, exited 0x5a");
                }
            }
        }
        tally.print();
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), "leaks: " + leaks);
    }

    /** 0, all ones, single bits, sign edges, or any 64-bit value. */
    private static long interesting(SplittableRandom rnd) {
        return switch (rnd.nextInt(6)) {
            case 0 -> new long[] {0, -1, 1, Long.MIN_VALUE, Long.MAX_VALUE, 0xffffffffL, 0x80000000L}[rnd.nextInt(7)];
            case 1 -> 1L << rnd.nextInt(64);
            default -> rnd.nextLong();
        };
    }

    // ---- instruction pointer: anywhere in RAM full of hlt ----

    /**
     * RIP set to a random address in RAM above the boot area, every byte of which is {@code hlt},
     * with the other general registers random: ring 0 must stop at {@code hlt}; ring 3, where
     * {@code hlt} raises #GP and there is no IDT, must shut down (triple fault).
     */
    @Test
    void aRandomInstructionPointerOverHltsEndsAsTheRingDecides() throws Exception {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        Tally tally = new Tally("random RIP over hlt");
        try (Kvm kvm = Kvm.open()) {
            Cpuid cpuid = kvm.supportedCpuid();
            for (int i = 0; i < 300 * SCALE; i++) {
                int ring = rnd.nextBoolean() ? 3 : 0;
                try (GuestMemory ram = GuestMemory.anonymous(RAM); Vm vm = kvm.createVm()) {
                    vm.mapMemory(0, ram);
                    ram.fill(0, RAM, (byte) 0xf4);
                    Vcpu vcpu = vm.createVcpu(0);
                    long rip = BootSetup.BOOT_AREA_END + rnd.nextLong(RAM - BootSetup.BOOT_AREA_END);
                    BootSetup.longMode(vcpu, ram, cpuid, ring, rip, RAM, BootInfo.single(RAM));
                    Regs regs = vcpu.getRegs();
                    for (int r = 0; r < 16; r++) {
                        if (r != 6) {
                            regs.set(r, interesting(rnd));
                        }
                    }
                    vcpu.setRegs(regs);
                    VmExit exit = vcpu.run();
                    String expected = ring == 0 ? "hlt" : "shutdown";
                    if (!exit.kind().label().equals(expected)) {
                        throw new AssertionError(String.format("try %d (seed %d): RIP 0x%x at ring %d over hlt must end in %s, ended in %s",
                                i, SEED, rip, ring, expected, exit));
                    }
                    tally.add("ring " + ring + ": " + exit.kind().label());
                }
            }
        }
        tally.print();
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

    /** Runs a set; a refusal must be a {@link KvmException} that names {@code ioctl}. */
    private static Throwable set(String ioctl, Runnable call) {
        try {
            call.run();
            return null;
        } catch (KvmException e) {
            if (!ioctl.equals(e.operation())) {
                throw new AssertionError("a refused " + ioctl + " reported " + e.operation() + ": " + e.getMessage(), e);
            }
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
                if (!KNOWN_EXITS.contains(last)) {
                    throw new AssertionError("exit of an unknown kind: " + exit);
                }
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
