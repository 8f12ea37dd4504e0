package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.internal.bridge.Layout;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** kvm-ioctls' x86-64 device test (src/ioctls/device.rs) on real /dev/kvm: {@link Device}. */
class KvmIoctlsDeviceTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void test_create_device() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            assertFalse(vm.canCreateDevice(Layout.intValue("KVM_DEV_TYPE_VFIO") + 100), "no such device type");
            KernelRefusal.requireCap(kvm, "KVM_CAP_DEVICE_CTRL", Layout.intValue("KVM_CAP_DEVICE_CTRL"));
            int vfio = Layout.intValue("KVM_DEV_TYPE_VFIO");
            assertTrue(vm.canCreateDevice(vfio));
            try (Device device = vm.createDevice(vfio)) {
                assertEquals(vfio, device.type());
                int group = Layout.intValue("KVM_DEV_VFIO_GROUP");
                long add = Layout.value("KVM_DEV_VFIO_GROUP_ADD");
                // No real VFIO group here (that would need /dev/vfio): the calls that need one fail.
                assertFalse(device.hasAttribute(group, 0x7fff), "an attribute the device lacks");
                assertThrows(KvmException.class, () -> device.getAttribute(group, add));
                assertThrows(KvmException.class, () -> device.setAttribute(group, add, -1L), "fd -1 is no VFIO group");
            }
        }
    }
}
