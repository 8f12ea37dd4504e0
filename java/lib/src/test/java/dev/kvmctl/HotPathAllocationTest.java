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
