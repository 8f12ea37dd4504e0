package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Every kind of exit, produced by real guest code on /dev/kvm. */
class ExitTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void portIoMmioAndHlt() {
        // 64 KiB of RAM at 0, so 0x20000 is unbacked and accesses there exit as MMIO.
        try (RealModeCode g = new RealModeCode(0x10000,
                0xba, 0xf8, 0x03,       // mov dx, 0x3f8
                0xb0, 0x41,             // mov al, 'A'
                0xee,                   // out dx, al
                0xe4, 0x60,             // in al, 0x60
                0xe6, 0xe9,             // out 0xe9, al        (echo what IN returned)
                0xb8, 0x00, 0x20,       // mov ax, 0x2000
                0x8e, 0xd8,             // mov ds, ax
                0xb0, 0x77,             // mov al, 0x77
                0xa2, 0x00, 0x00,       // mov [0], al         (MMIO write to 0x20000)
                0xa0, 0x08, 0x00,       // mov al, [8]         (MMIO read from 0x20008)
                0xe6, 0xe9,             // out 0xe9, al        (echo what the read returned)
                0xf4)) {                // hlt
            VmExit.IoOut out = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
            assertEquals(0x3f8, out.port());
            assertEquals(1, out.size());
            assertEquals(1, out.count());
            assertEquals('A', out.value());
            assertEquals('A', out.data().get(0));

            VmExit.IoIn in = assertInstanceOf(VmExit.IoIn.class, g.vcpu.run());
            assertEquals(0x60, in.port());
            in.answer(0x5a);

            VmExit.IoOut echo = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
            assertEquals(0xe9, echo.port());
            assertEquals(0x5a, echo.value());
            assertSame(out, echo, "exits are per-vCPU flyweights: no allocation per run");

            VmExit.MmioWrite w = assertInstanceOf(VmExit.MmioWrite.class, g.vcpu.run());
            assertEquals(0x20000, w.address());
            assertEquals(1, w.length());
            assertEquals(0x77, w.value());

            VmExit.MmioRead r = assertInstanceOf(VmExit.MmioRead.class, g.vcpu.run());
            assertEquals(0x20008, r.address());
            assertEquals(1, r.length());
            r.answer(0x33);

            VmExit.IoOut echo2 = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
            assertEquals(0x33, echo2.value());

            assertInstanceOf(VmExit.Hlt.class, g.vcpu.run());
        }
    }

    @Test
    void wordAndDwordPortIo() {
        try (RealModeCode g = new RealModeCode(0x10000,
                0xba, 0x00, 0x05,             // mov dx, 0x500
                0xb8, 0x34, 0x12,             // mov ax, 0x1234
                0xef,                         // out dx, ax
                0x66, 0xb8, 0x78, 0x56, 0x34, 0x12, // mov eax, 0x12345678
                0x66, 0xef,                   // out dx, eax
                0x66, 0xed,                   // in eax, dx
                0x66, 0xef,                   // out dx, eax   (echo)
                0xf4)) {
            VmExit.IoOut w = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
            assertEquals(2, w.size());
            assertEquals(0x1234, w.value());
            VmExit.IoOut d = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
            assertEquals(4, d.size());
            assertEquals(0x12345678, d.value());
            VmExit.IoIn in = assertInstanceOf(VmExit.IoIn.class, g.vcpu.run());
            assertEquals(4, in.size());
            in.answer(0xcafef00d);
            VmExit.IoOut echo = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
            assertEquals(0xcafef00d, echo.value());
            assertInstanceOf(VmExit.Hlt.class, g.vcpu.run());
        }
    }

    @Test
    void tripleFaultIsShutdown() {
        // Ring 3, long mode, no IDT: a write to an unmapped address raises #PF, which cannot be
        // delivered, and the vCPU shuts down.
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(4 << 20); Vm vm = kvm.createVm()) {
            vm.mapMemory(0, ram);
            ram.write(0x100000, bytes(0x48, 0xc7, 0x04, 0x25, 0x00, 0x00, 0x00, 0x40, 0x01, 0x00, 0x00, 0x00)); // mov qword [0x40000000], 1
            Vcpu vcpu = vm.createVcpu(0);
            BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, 0x100000, ram.size(), BootInfo.single(ram.size()));
            VmExit exit = vcpu.run();
            assertInstanceOf(VmExit.Shutdown.class, exit, () -> "expected a triple fault, got " + exit);
            assertEquals(0x40000000L, vcpu.getSregs().cr2(), "the fault was the page fault at the unmapped address");
        }
    }

    @Test
    void singleStepGivesDebugExits() {
        try (RealModeCode g = new RealModeCode(0x10000,
                0x90,       // nop
                0x40,       // inc ax
                0x40,       // inc ax
                0xf4)) {    // hlt
            g.vcpu.singleStep(true);
            long[] pcs = new long[3];
            for (int i = 0; i < 3; i++) {
                VmExit.Debug d = assertInstanceOf(VmExit.Debug.class, g.vcpu.run());
                assertEquals(1, d.exception(), "single step is #DB");
                pcs[i] = d.pc();
            }
            assertEquals(RealModeCode.ENTRY + 1, pcs[0]);
            assertEquals(RealModeCode.ENTRY + 2, pcs[1]);
            assertEquals(RealModeCode.ENTRY + 3, pcs[2]);
            assertEquals(2, g.vcpu.getRegs().rax() & 0xffff);
            g.vcpu.singleStep(false);
            assertInstanceOf(VmExit.Hlt.class, g.vcpu.run());
        }
    }

    @Test
    void kickInterruptsASpinningGuest() throws Exception {
        try (RealModeCode g = new RealModeCode(0x10000, 0xeb, 0xfe)) { // jmp $
            Thread kicker = new Thread(() -> {
                try {
                    Thread.sleep(50);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                g.vcpu.kick();
            });
            kicker.start();
            VmExit exit = g.vcpu.run();
            kicker.join();
            assertInstanceOf(VmExit.Interrupted.class, exit);
            assertEquals(RealModeCode.ENTRY, g.vcpu.getRegs().rip(), "still at the jmp");
            // A kick before run() makes the next run return at once; the flag is then cleared.
            g.vcpu.kick();
            assertInstanceOf(VmExit.Interrupted.class, g.vcpu.run());
            assertTrue(g.vcpu.runPage().get(1) == 0, "immediate_exit cleared after the interrupted run");
        }
    }

    static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }
}
