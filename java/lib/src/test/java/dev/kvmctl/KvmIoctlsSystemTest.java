package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.LibC;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** kvm-ioctls' x86-64 system tests (src/ioctls/system.rs) for the calls issue 9 added, on real /dev/kvm. */
class KvmIoctlsSystemTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void test_kvm_check_extension() {
        try (Kvm kvm = Kvm.open()) {
            assertEquals(0, kvm.checkExtension(696969), "an unknown capability answers 0");
            assertEquals(kvm.checkExtension(Capability.IRQCHIP), kvm.checkExtension(Capability.IRQCHIP.number()));
            assertTrue(kvm.checkExtension(Capability.IRQCHIP.number()) > 0);
        }
    }

    @Test
    void test_create_vm_with_type() {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(0x10000)) {
            try (Vm vm = kvm.createVm(0)) {
                int raw = LibC.INSTANCE.dup(vm.fd());
                assertTrue(raw >= 0);
                try (Vm again = kvm.adoptVm(raw)) { // kvm-ioctls: create_vmfd_from_rawfd
                    again.mapMemory(0, ram);
                    ram.write(0x1000, new byte[] {(byte) 0xf4});
                    Vcpu vcpu = again.createVcpu(0);
                    UseAfterCloseProbe.realMode(vcpu);
                    assertInstanceOf(VmExit.Hlt.class, vcpu.run(), "a VM adopted from a raw fd runs");
                }
            }
            // Type 1 (KVM_X86_SW_PROTECTED_VM) is not offered here unless KVM_CAP_VM_TYPES has bit 1.
            if ((kvm.checkExtension(Layout.intValue("KVM_CAP_VM_TYPES")) & 2) == 0) {
                KvmException e = assertThrows(KvmException.class, () -> kvm.createVm(1));
                assertEquals(22, e.errno(), e.getMessage());
            }
        }
    }

    @Test
    void test_bad_kvm_fd() {
        try (EventFd notKvm = EventFd.create(true)) {
            int raw = LibC.INSTANCE.dup(notKvm.fd());
            KvmException e = assertThrows(KvmException.class, () -> Kvm.adopt(raw));
            assertEquals("KVM_GET_API_VERSION", e.operation());
            assertEquals(25, e.errno(), "ENOTTY from an eventfd: " + e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> Kvm.adopt(-2));
    }

    @Test
    void from_raw_fd() {
        try (Kvm kvm = Kvm.open()) {
            try (Kvm adopted = Kvm.adopt(LibC.INSTANCE.dup(kvm.fd()))) {
                assertEquals(Kvm.API_VERSION, adopted.apiVersion());
                assertEquals(kvm.vcpuMmapSize(), adopted.vcpuMmapSize());
                try (Vm vm = adopted.createVm()) {
                    assertTrue(vm.checkExtension(Capability.USER_MEMORY) > 0);
                }
            }
            assertTrue(kvm.apiVersion() == Kvm.API_VERSION, "closing the adopted Kvm leaves the original open");
        }
    }

}
