package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.state.Regs;
import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** KVM_RUN with its exit decoding, and register get/set, allocate nothing on the Java heap. */
class HotPathAllocationTest {
    private static final int ROUNDS = 20_000;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void runAndRegistersAllocateNothing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(4 << 20); Vm vm = kvm.createVm()) {
            vm.mapMemory(0, ram);
            ram.write(0x100000, ExitTest.bytes(0x66, 0xba, 0x00, 0x05, 0xee, 0xeb, 0xfd)); // out 0x500 in a loop
            Vcpu vcpu = vm.createVcpu(0);
            BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, 0x100000, ram.size(), BootInfo.single(ram.size()));
            long sink = 0;
            for (int i = 0; i < ROUNDS; i++) { // let the JIT compile the loop
                sink += step(vcpu);
            }
            long before = threads.getThreadAllocatedBytes(self);
            for (int i = 0; i < ROUNDS; i++) {
                sink += step(vcpu);
            }
            long allocated = threads.getThreadAllocatedBytes(self) - before;
            assertTrue(sink != 0);
            // A few hundred bytes of slack for the measurement itself; one object per call would be > 300 KB.
            assertTrue(allocated < 4096, allocated + " bytes allocated over " + ROUNDS + " runs");
        }
    }

    private static long step(Vcpu vcpu) {
        VmExit exit = vcpu.run();
        if (!(exit instanceof VmExit.IoOut out)) {
            throw new AssertionError("unexpected " + exit);
        }
        Regs regs = vcpu.regsView();
        regs.rax(regs.rax() + 1);
        vcpu.setRegs(regs);
        return out.port() + regs.rip();
    }

    /** Issue 9's hot calls: an MSR exit answered, the coalesced ring read, the synced registers copied. */
    @Test
    void msrExitsCoalescedRingAndSyncedRegsAllocateNothing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        // mov ecx, 0x474f4f00; loop: rdmsr; out 0x2c, al; jmp loop
        try (RealModeCode g = new RealModeCode(0x10000, 0x66, 0xb9, 0x00, 0x4f, 0x4f, 0x47, 0x0f, 0x32, 0xe6, 0x2c, 0xeb, 0xfa)) {
            g.vm.enableCap(dev.kvmctl.internal.bridge.Layout.intValue("KVM_CAP_X86_USER_SPACE_MSR"), VmExit.REASON_UNKNOWN, 0);
            g.vm.registerCoalescedIo(Vm.IoSpace.PIO, 0x2c, 1);
            g.vcpu.syncValidRegs(Vcpu.SYNC_REGS);
            CoalescedIo io = new CoalescedIo();
            Regs regs = new Regs();
            long sink = 0;
            for (int i = 0; i < ROUNDS; i++) {
                sink += msrStep(g.vcpu, io, regs, i);
            }
            long before = threads.getThreadAllocatedBytes(self);
            for (int i = 0; i < ROUNDS; i++) {
                sink += msrStep(g.vcpu, io, regs, i);
            }
            long allocated = threads.getThreadAllocatedBytes(self) - before;
            assertTrue(sink != 0);
            assertTrue(allocated < 4096, allocated + " bytes allocated over " + ROUNDS + " MSR exits");
        }
    }

    private static long msrStep(Vcpu vcpu, CoalescedIo io, Regs regs, int i) {
        VmExit exit = vcpu.run();
        if (!(exit instanceof VmExit.MsrRead read)) {
            throw new AssertionError("unexpected " + exit);
        }
        read.answer(i);
        long seen = vcpu.nextCoalescedIo(io) ? io.data() + 1 : 0; // the previous round's out, answered i - 1
        if (i > 0 && seen != ((i - 1) & 0xff) + 1) {
            throw new AssertionError("round " + i + ": coalesced " + io);
        }
        return seen + vcpu.readSyncedRegs(regs).rcx() + read.index();
    }

    @Test
    void theSameExitObjectComesBack() {
        try (RealModeCode g = new RealModeCode(0x10000, 0xe6, 0x80, 0xe6, 0x80, 0xf4)) {
            VmExit first = g.vcpu.run();
            VmExit second = g.vcpu.run();
            assertInstanceOf(VmExit.IoOut.class, first);
            assertTrue(first == second, "one IoOut per vCPU, reused");
        }
    }
}
