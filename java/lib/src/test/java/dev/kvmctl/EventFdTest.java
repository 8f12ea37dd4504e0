package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;

import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.Segment;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** ioeventfd (guest to host without an exit) and irqfd (host to guest interrupt) on real KVM. */
class EventFdTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void ioeventfdCountsGuestWritesWithoutExits() {
        try (RealModeCode g = new RealModeCode(0x10000,
                0xba, 0x00, 0x05,   // mov dx, 0x500
                0xb0, 0x01,         // mov al, 1
                0xee,               // out dx, al   (doorbell: handled in the kernel)
                0xee,               // out dx, al
                0xee,               // out dx, al
                0xb0, 0x07,         // mov al, 7
                0xee,               // out dx, al   (datamatch 1 only: this one exits)
                0xf4);
             EventFd doorbell = EventFd.create(true)) {
            g.vm.registerIoEvent(doorbell, Vm.IoSpace.PIO, 0x500, 1, 1);
            VmExit.IoOut out = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
            assertEquals(7, out.value(), "only the non-matching write reached user space");
            assertEquals(3, doorbell.read(), "three doorbell rings counted in the kernel");
            assertEquals(0, doorbell.read(), "and the counter reset");
            g.vm.unregisterIoEvent(doorbell, Vm.IoSpace.PIO, 0x500, 1, 1);
            assertInstanceOf(VmExit.Hlt.class, g.vcpu.run());
        }
    }

    @Test
    void irqfdDeliversAnInterruptToTheGuest() {
        // Real-mode guest: handler for vector 0x25 (PIC IRQ 5 after remapping to 0x20) at 0x2000.
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(0x10000); Vm vm = kvm.createVm();
             EventFd irq = EventFd.create(false)) {
            vm.createIrqchip();
            vm.mapMemory(0, ram);
            ram.putShort(0x25 * 4, (short) 0x2000); // IVT[0x25] = 0000:2000
            ram.putShort(0x25 * 4 + 2, (short) 0);
            ram.write(0x1000, ExitTest.bytes(
                    0xb0, 0x11, 0xe6, 0x20,   // ICW1: edge, cascade, ICW4 needed
                    0xb0, 0x20, 0xe6, 0x21,   // ICW2: vectors 0x20..0x27
                    0xb0, 0x04, 0xe6, 0x21,   // ICW3: slave on IRQ2
                    0xb0, 0x01, 0xe6, 0x21,   // ICW4: 8086 mode
                    0xb0, 0xdf, 0xe6, 0x21,   // OCW1: unmask IRQ 5 only
                    0xb0, 0x52, 0xe6, 0xe9,   // out 0xe9, 'R'  (ready: the host may signal now)
                    0xfb,                     // sti
                    0xf4,                     // hlt            (in-kernel irqchip: waits in the kernel)
                    0xeb, 0xfd));             // jmp back to hlt
            ram.write(0x2000, ExitTest.bytes(
                    0xb0, 0x49, 0xe6, 0xe9,   // out 0xe9, 'I'
                    0xb0, 0x20, 0xe6, 0x20,   // EOI
                    0xb0, 0x2a, 0xe6, 0xf4,   // out 0xf4, 42
                    0xcf));                   // iret
            Vcpu vcpu = vm.createVcpu(0);
            // Let the PIC's interrupts through the local APIC: LVT0 in ExtINT mode, APIC enabled.
            Lapic lapic = vcpu.getLapic(new Lapic());
            lapic.register(0x350, 0x700).register(0xf0, lapic.register(0xf0) | 0x100);
            vcpu.setLapic(lapic);
            vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)).dataSegments(Segment.real(0, false)));
            vcpu.setRegs(vcpu.getRegs().rip(0x1000).rflags(2).rsp(0x7000));
            vm.registerIrqFd(irq, 5);

            VmExit.IoOut ready = assertInstanceOf(VmExit.IoOut.class, vcpu.run());
            assertEquals('R', ready.value());
            irq.signal(); // raises IRQ 5 while the guest sits in hlt inside the kernel
            VmExit.IoOut handled = assertInstanceOf(VmExit.IoOut.class, vcpu.run());
            assertEquals('I', handled.value(), "the interrupt handler ran");
            VmExit.IoOut exit = assertInstanceOf(VmExit.IoOut.class, vcpu.run()); // the EOI stays in the kernel
            assertEquals(0xf4, exit.port());
            assertEquals(42, exit.value());
            vm.unregisterIrqFd(irq, 5);
        }
    }
}
