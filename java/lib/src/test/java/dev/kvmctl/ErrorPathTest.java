package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.state.Regs;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every failure is an exception that names the operation; none crashes the JVM. */
class ErrorPathTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void missingDeviceSaysWhatToDo() {
        KvmException e = assertThrows(KvmException.class, () -> Kvm.open(Path.of("/nonexistent/kvm")));
        assertEquals(LibC.ENOENT, e.errno());
        assertEquals("ENOENT", e.errnoName());
        assertTrue(e.getMessage().startsWith("open(/nonexistent/kvm) failed: ENOENT"), e.getMessage());
        assertTrue(e.getMessage().contains("--device"), "mentions the container case: " + e.getMessage());
    }

    @Test
    void aDeviceThatIsNotKvm() {
        KvmException e = assertThrows(KvmException.class, () -> Kvm.open(Path.of("/dev/null")));
        assertEquals("KVM_GET_API_VERSION", e.operation());
        assertEquals(LibC.ENOTTY, e.errno());
    }

    @Test
    void kernelErrorsNameTheIoctlAndErrno() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            vm.createVcpu(0);
            KvmException e = assertThrows(KvmException.class, () -> vm.createVcpu(0));
            assertEquals("KVM_CREATE_VCPU", e.operation());
            assertEquals("EEXIST", e.errnoName());
            assertTrue(e.getMessage().startsWith("KVM_CREATE_VCPU failed: EEXIST (File exists)"), e.getMessage());
            KvmException range = assertThrows(KvmException.class, () -> vm.createVcpu(1 << 20));
            assertEquals("EINVAL", range.errnoName());
        }
    }

    @Test
    void closedObjectsRefuseEveryCall() {
        Kvm kvm = Kvm.open();
        Vm vm = kvm.createVm();
        Vcpu vcpu = vm.createVcpu(0);
        vm.close();
        assertTrue(vcpu.isClosed(), "closing a VM closes its vCPUs");
        IllegalStateException e = assertThrows(IllegalStateException.class, vcpu::run);
        assertTrue(e.getMessage().contains("vCPU 0 is closed"), e.getMessage());
        assertThrows(IllegalStateException.class, vcpu::getRegs);
        assertThrows(IllegalStateException.class, () -> vcpu.setRegs(new Regs()));
        assertThrows(IllegalStateException.class, () -> vm.createVcpu(1));
        assertThrows(IllegalStateException.class, vm::createIrqchip);
        vm.close(); // idempotent
        kvm.close();
        assertThrows(IllegalStateException.class, kvm::createVm);
        assertThrows(IllegalStateException.class, () -> kvm.checkExtension(Capability.IRQCHIP));
    }

    @Test
    void aBadFileDescriptorThrowsInsteadOfCrashing() {
        int devNull = LibC.INSTANCE.open("/dev/null", LibC.O_RDWR | LibC.O_CLOEXEC);
        try (Kvm kvm = Kvm.open()) {
            Vm bogus = new Vm(kvm, new OwnedFd(devNull, "not a VM"));
            KvmException e = assertThrows(KvmException.class, () -> bogus.createVcpu(0));
            assertEquals(LibC.ENOTTY, e.errno());
            assertThrows(KvmException.class, bogus::createIrqchip);
            try (GuestMemory m = GuestMemory.anonymous(4096)) {
                assertThrows(KvmException.class, () -> bogus.mapMemory(0, m));
                assertEquals(0, bogus.memorySlots().size(), "a failed map leaves no slot behind");
            }
            bogus.close();
        }
    }

    /**
     * {@code require} refuses exactly the capabilities this KVM lacks, naming the first one, and
     * accepts the rest: checked for every capability kvmctl knows, on whatever this host has.
     */
    @Test
    void missingCapabilityIsNamed() {
        try (Kvm kvm = Kvm.open()) {
            List<Capability> present = new ArrayList<>();
            for (Capability cap : Capability.values()) {
                if (kvm.has(cap)) {
                    present.add(cap);
                    kvm.require(cap);
                } else {
                    KvmException e = assertThrows(KvmException.class, () -> kvm.require(cap), cap.kernelName());
                    assertTrue(e.getMessage().startsWith(cap.kernelName()), e.getMessage());
                    assertTrue(e.getMessage().contains("lacks it"), e.getMessage());
                    // Listed after capabilities that are there, it is still the one named.
                    KvmException named = assertThrows(KvmException.class,
                            () -> kvm.require(Capability.USER_MEMORY, Capability.IRQCHIP, cap));
                    assertEquals(cap.kernelName(), named.operation());
                }
            }
            assertTrue(present.contains(Capability.USER_MEMORY), "KVM_CAP_USER_MEMORY is on every KVM kvmctl runs on");
            kvm.require(present.toArray(Capability[]::new));
        }
    }
}
