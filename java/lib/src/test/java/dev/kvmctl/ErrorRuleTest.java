package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.contexts.ContextFormatException;
import dev.kvmctl.contexts.Snapshot;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.GuestImageException;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.state.DebugRegs;
import dev.kvmctl.state.Fpu;
import dev.kvmctl.state.Irqchip;
import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.Xcrs;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Representative cases of each family of the error rule (see {@link KvmException}'s Javadoc): the
 * kernel's refusals are {@link KvmException} naming the ioctl and errno; bad input found before the
 * kernel is {@link IllegalArgumentException} (or {@link IndexOutOfBoundsException} for an index);
 * a closed object or the wrong state is {@link IllegalStateException}; failed file I/O is
 * {@link UncheckedIOException}.
 */
class ErrorRuleTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void theKernelsRefusalIsAKvmExceptionNamingTheIoctlAndErrno() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            KvmException twice = assertThrows(KvmException.class, () -> vm.createVcpu(0));
            assertEquals("KVM_CREATE_VCPU", twice.operation());
            assertEquals(LibC.EEXIST, twice.errno());
            KvmException noLapic = assertThrows(KvmException.class, () -> vcpu.getLapic(new Lapic()));
            assertEquals("KVM_GET_LAPIC", noLapic.operation(), "no in-kernel irqchip: the kernel refuses");
            assertTrue(noLapic.getMessage().startsWith("KVM_GET_LAPIC failed: " + noLapic.errnoName()), noLapic.getMessage());
            KvmException flags = assertThrows(KvmException.class, () -> vcpu.setDebugRegs(new DebugRegs().flags(1)));
            assertEquals("KVM_SET_DEBUGREGS", flags.operation());
            assertEquals("EINVAL", flags.errnoName());
        }
    }

    @Test
    void badInputFoundBeforeTheKernelIsAnIllegalArgumentException() throws IOException {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(1 << 20); Vm vm = kvm.createVm()) {
            assertThrows(IllegalArgumentException.class, () -> vm.mapMemory(0x123, ram), "an unaligned guest address");
            vm.mapMemory(0, ram);
            assertThrows(IllegalArgumentException.class, () -> vm.mapMemory(0x1000, ram), "an overlapping slot");
            assertThrows(IllegalArgumentException.class, () -> new Irqchip(7));
            assertThrows(IllegalArgumentException.class, () -> new Xcrs().count(Xcrs.CAPACITY + 1));
            assertThrows(IllegalArgumentException.class, () -> new Lapic().register(0x24), "between two registers");
            assertThrows(IndexOutOfBoundsException.class, () -> new Fpu().xmmLow(Fpu.XMM_COUNT));
            assertThrows(IndexOutOfBoundsException.class, () -> ram.getInt(ram.size()));
        }
        Path missing = dir.resolve("missing");
        ContextFormatException snapshot = assertThrows(ContextFormatException.class, () -> Snapshot.inspect(missing));
        assertTrue(snapshot.getMessage().contains(missing.toString()), snapshot.getMessage());
        GuestImageException image = assertThrows(GuestImageException.class, () -> GuestImage.read(missing, 0, 0));
        assertTrue(image.getMessage().contains(missing.toString()), image.getMessage());
        assertThrows(ContextFormatException.class, () -> Snapshot.inspect(dir), "a directory is not a snapshot");
    }

    @Test
    void aClosedObjectOrTheWrongStateIsAnIllegalStateException() {
        Kvm kvm = Kvm.open();
        Vm vm = kvm.createVm();
        Vcpu vcpu = vm.createVcpu(0);
        GuestMemory ram = GuestMemory.anonymous(1 << 20);
        vm.close();
        ram.close();
        kvm.close();
        assertThrows(IllegalStateException.class, vcpu::regsView);
        assertThrows(IllegalStateException.class, vcpu::getRegs);
        assertThrows(IllegalStateException.class, () -> vm.createVcpu(1));
        assertThrows(IllegalStateException.class, () -> ram.getInt(0));
        assertThrows(IllegalStateException.class, kvm::createVm);
        assertThrows(IllegalStateException.class, () -> new Irqchip(Irqchip.IOAPIC).pic(Irqchip.PicField.IMR));
    }

    @Test
    void failedFileIoIsAnUncheckedIoException() throws IOException {
        try (FileOutputStream full = new FileOutputStream("/dev/full")) {
            Console console = new Console(full, null);
            assertThrows(UncheckedIOException.class, () -> console.write('x'), "/dev/full: no space left");
        }
    }
}
