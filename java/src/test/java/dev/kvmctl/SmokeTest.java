package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.kvmctl.memory.GuestMemory;
import dev.kvmctl.state.Segment;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void realModeOutThenHlt() {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(1 << 20)) {
            try (Vm vm = kvm.createVm()) {
                vm.mapMemory(0, ram);
                ram.write(0x1000, new byte[] {(byte) 0xba, (byte) 0xf8, 0x03, (byte) 0xb0, 'H', (byte) 0xee, (byte) 0xf4});
                Vcpu vcpu = vm.createVcpu(0);
                vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)));
                vcpu.setRegs(vcpu.getRegs().rip(0x1000).rflags(2));
                VmExit exit = vcpu.run();
                VmExit.IoOut out = assertInstanceOf(VmExit.IoOut.class, exit);
                assertEquals(0x3f8, out.port());
                assertEquals('H', out.value());
                assertInstanceOf(VmExit.Hlt.class, vcpu.run());
            }
        }
    }
}
