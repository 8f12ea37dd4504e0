package dev.kvmctl.bench;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.contexts.Checkpoint;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * The Java side of scripts/bench-reset.sh: run the guest of scripts/bench/reset-bench.c (its C
 * baseline) to its exit, having written {@code dirtyPages} pages, then {@link Checkpoint#reset()};
 * one operation is one run and one reset.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
public class ResetBench {
    private static final long CODE = 0x100000;
    private static final long DIRTY_BASE = 0x400000;
    private static final int EXIT_PORT = 0xf4;
    /** reset-bench.c's guest: writes K pages, every other page from 4 MiB, then out 0xf4. */
    private static final int[] GUEST = {
        0xb9, 0, 0, 0, 0, 0xbf, 0x00, 0x00, 0x40, 0x00, 0x85, 0xc9, 0x74, 0x0c, 0x89, 0x0f,
        0x81, 0xc7, 0x00, 0x20, 0x00, 0x00, 0xff, 0xc9, 0xeb, 0xf0, 0x66, 0xba, 0xf4, 0x00, 0xee,
        0xeb, 0xfe,
    };

    /** Guest RAM in MiB. */
    @Param({"64", "1024"})
    public int ramMiB;

    /** Pages the guest writes per run. */
    @Param({"1", "16", "256"})
    public int dirtyPages;

    /** What a reset restores of the vCPU. */
    @Param({"ALL", "NO_MSRS", "REGISTERS"})
    public Checkpoint.Scope scope;

    /**
     * How the checkpoint tracks dirty pages; scripts/bench-reset.sh runs {@code KEEP_WRITABLE}
     * with {@code NO_MSRS} only, against reset-bench.c's {@code sticky-sync}.
     */
    @Param({"REPROTECT", "KEEP_WRITABLE"})
    public Checkpoint.Tracking tracking;

    private Kvm kvm;
    private GuestMemory ram;
    private Vm vm;
    private Vcpu vcpu;
    private Checkpoint checkpoint;

    @Setup
    public void setUp() {
        long size = (long) ramMiB << 20;
        kvm = Kvm.open();
        ram = GuestMemory.memfd("reset-bench-ram", size);
        vm = kvm.createVm();
        MemorySlot slot = vm.mapMemory(0, ram, MemorySlot.LOG_DIRTY_PAGES);
        byte[] code = new byte[GUEST.length];
        for (int i = 0; i < code.length; i++) {
            code[i] = (byte) GUEST[i];
        }
        ram.write(CODE, code);
        ram.putInt(CODE + 1, dirtyPages);
        vcpu = vm.createVcpu(0);
        BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, CODE, size, BootInfo.single(size));
        checkpoint = Checkpoint.mark(vm, slot, scope, List.of(), tracking);
        if (checkpoint.tracking() != tracking) {
            throw new IllegalStateException("this kernel cannot track dirty pages as " + tracking + " (no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2)");
        }
        // the same check as the C baseline's: a reset gives the checkpoint back (twice: the second
        // copies back pages a KEEP_WRITABLE checkpoint left writable); the guest writes only the
        // first word of each of its pages
        for (int round = 0; round < 2; round++) {
            runAndReset();
            for (int page = 0; page < dirtyPages; page++) {
                if (ram.getInt(DIRTY_BASE + page * 0x2000L) != 0) {
                    throw new IllegalStateException("a reset did not give back the checkpoint's memory");
                }
            }
            if (vcpu.regsView().rip() != CODE) {
                throw new IllegalStateException("a reset did not give back the checkpoint's registers");
            }
        }
    }

    @TearDown
    public void tearDown() {
        checkpoint.close();
        vm.close();
        ram.close();
        kvm.close();
    }

    /** Runs the guest to its exit, then resets it; returns the pages copied back. */
    @Benchmark
    public int runAndReset() {
        VmExit exit = vcpu.run();
        if (!(exit instanceof VmExit.IoOut out) || out.port() != EXIT_PORT) {
            throw new IllegalStateException("benchmark guest misbehaves: " + exit);
        }
        return checkpoint.reset();
    }
}
