package dev.kvmctl;

import static dev.kvmctl.ExitTest.bytes;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Memory slots added, removed and moved while the VM lives; high addresses; dirty logging; refusals. */
class MemorySlotTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** A real-mode loop: read the byte at 0x20000 and write it to port 0xe9, forever. */
    private static final int[] READ_LOOP = {
        0xb8, 0x00, 0x20,   // mov ax, 0x2000
        0x8e, 0xd8,         // mov ds, ax
        0xa0, 0x00, 0x00,   // loop: mov al, [0]
        0xe6, 0xe9,         // out 0xe9, al
        0xeb, 0xf9,         // jmp loop
    };

    @Test
    void slotsComeAndGoWhileTheVmRuns() {
        try (RealModeCode g = new RealModeCode(0x10000, READ_LOOP);
             GuestMemory a = GuestMemory.anonymous(4096);
             GuestMemory b = GuestMemory.memfd("b", 4096)) {
            a.putByte(0, (byte) 0x11);
            b.putByte(0, (byte) 0x33);

            MemorySlot slot = g.vm.mapMemory(0x20000, a);
            assertEquals(0x11, echo(g));

            g.vm.unmapMemory(slot);
            VmExit.MmioRead r = assertInstanceOf(VmExit.MmioRead.class, g.vcpu.run(), "unmapped memory reads as MMIO");
            assertEquals(0x20000, r.address());
            r.answer(0x22);
            assertEquals(0x22, echo(g));

            MemorySlot slotB = g.vm.mapMemory(0x20000, b);
            assertEquals(0x33, echo(g));

            MemorySlot moved = g.vm.moveMemory(slotB, 0x30000);
            assertEquals(slotB.id(), moved.id());
            assertEquals(0x30000, moved.guestAddress());
            assertInstanceOf(VmExit.MmioRead.class, g.vcpu.run(), "after the move 0x20000 is unbacked again").answer(0x44);
            assertEquals(0x44, echo(g));
            g.vm.unmapMemory(moved);
            g.vm.close();
        }
    }

    private static int echo(RealModeCode g) {
        VmExit.IoOut out = assertInstanceOf(VmExit.IoOut.class, g.vcpu.run());
        assertEquals(0xe9, out.port());
        return out.value();
    }

    @Test
    void slotAboveFourGib() {
        long high = 1L << 32;
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(4 << 20);
             GuestMemory above = GuestMemory.anonymous(2 << 20); Vm vm = kvm.createVm()) {
            vm.mapMemory(0, ram);
            MemorySlot slot = vm.mapMemory(high, above);
            above.putByte(0x1234, (byte) 0x5c);
            assertEquals(0x5c, vm.read(high + 0x1234, 1)[0]);
            ram.write(0x100000, bytes(
                    0x48, 0xb8, 0x34, 0x12, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, // mov rax, 0x100001234
                    0x8a, 0x00,                                                 // mov al, [rax]
                    0xe6, 0xe9,                                                 // out 0xe9, al
                    0xe6, 0xf4));                                               // out 0xf4, al
            Vcpu vcpu = vm.createVcpu(0);
            BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, 0x100000, slot.guestEnd(), BootInfo.single(ram.size()));
            VmExit.IoOut out = assertInstanceOf(VmExit.IoOut.class, vcpu.run());
            assertEquals(0xe9, out.port());
            assertEquals(0x5c, out.value());
        }
    }

    @Test
    void dirtyLogShowsExactlyThePagesTheGuestWrote() {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(4 << 20);
             GuestMemory logged = GuestMemory.anonymous(4 << 20); Vm vm = kvm.createVm()) {
            vm.mapMemory(0, ram);
            MemorySlot slot = vm.mapMemory(4 << 20, logged, MemorySlot.LOG_DIRTY_PAGES);
            ram.write(0x100000, bytes(
                    0xc6, 0x04, 0x25, 0x00, 0x00, 0x40, 0x00, 0x01,  // mov byte [0x400000], 1
                    0xc6, 0x04, 0x25, 0x10, 0x30, 0x40, 0x00, 0x02,  // mov byte [0x403010], 2
                    0xc6, 0x04, 0x25, 0xff, 0x0f, 0x45, 0x00, 0x03,  // mov byte [0x450fff], 3
                    0xe6, 0xf4));                                    // out 0xf4, al
            Vcpu vcpu = vm.createVcpu(0);
            BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, 0x100000, 8 << 20, BootInfo.single(ram.size()));
            assertTrue(vm.dirtyLog(slot).isEmpty(), "nothing written yet");
            assertInstanceOf(VmExit.IoOut.class, vcpu.run());
            BitSet dirty = vm.dirtyLog(slot);
            BitSet expected = new BitSet();
            expected.set(0);
            expected.set(3);
            expected.set(0x50);
            assertEquals(expected, dirty);
            assertTrue(vm.dirtyLog(slot).isEmpty(), "fetching the log clears it");
            assertEquals(3, logged.getByte(0x50fff));
        }
    }

    @Test
    void dirtyLogIntoACallersBufferFillsItAndRefusesBadBuffers() {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(4 << 20);
             GuestMemory logged = GuestMemory.anonymous(4 << 20); Vm vm = kvm.createVm()) {
            vm.mapMemory(0, ram);
            MemorySlot slot = vm.mapMemory(4 << 20, logged, MemorySlot.LOG_DIRTY_PAGES);
            assertEquals(1024 / 8, slot.dirtyLogBytes(), "one bit per page of 4 MiB");
            ram.write(0x100000, bytes(
                    0xc6, 0x04, 0x25, 0x10, 0x30, 0x40, 0x00, 0x02,  // mov byte [0x403010], 2
                    0xc6, 0x04, 0x25, 0xff, 0x0f, 0x45, 0x00, 0x03,  // mov byte [0x450fff], 3
                    0xe6, 0xf4));                                    // out 0xf4, al
            Vcpu vcpu = vm.createVcpu(0);
            BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, 0x100000, 8 << 20, BootInfo.single(ram.size()));
            java.nio.ByteBuffer bitmap = java.nio.ByteBuffer.allocateDirect(slot.dirtyLogBytes()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            vm.dirtyLog(slot, bitmap);
            assertInstanceOf(VmExit.IoOut.class, vcpu.run());
            vm.dirtyLog(slot, bitmap);
            assertEquals(1L << 3, bitmap.getLong(0), "page 3");
            assertEquals(1L << (0x50 - 64), bitmap.getLong(8), "page 0x50");
            for (int w = 2; w < slot.dirtyLogBytes() / 8; w++) {
                assertEquals(0, bitmap.getLong(w * 8), "word " + w);
            }
            assertThrows(IllegalArgumentException.class, () -> vm.dirtyLog(slot, java.nio.ByteBuffer.allocate(slot.dirtyLogBytes())),
                    "a heap buffer");
            assertThrows(IllegalArgumentException.class, () -> vm.dirtyLog(slot, java.nio.ByteBuffer.allocateDirect(slot.dirtyLogBytes() - 8)),
                    "too small");
        }
    }

    @Test
    void overlappingAndUnalignedSlotsAreRefusedInJava() {
        try (Kvm kvm = Kvm.open(); GuestMemory m = GuestMemory.anonymous(1 << 20); Vm vm = kvm.createVm()) {
            MemorySlot first = vm.mapMemory(0x100000, m);
            IllegalArgumentException overlap = assertThrows(IllegalArgumentException.class, () -> vm.mapMemory(0x180000, m));
            assertTrue(overlap.getMessage().contains("overlaps slot " + first.id()), overlap.getMessage());
            assertThrows(IllegalArgumentException.class, () -> vm.mapMemory(0x0ff000, m), "overlaps from below");
            assertThrows(IllegalArgumentException.class, () -> vm.mapMemory(0x300800, m), "unaligned address");
            assertThrows(IllegalArgumentException.class, () -> vm.mapMemory(0x400000, m, 0, 0x1800, 0), "unaligned size");
            assertThrows(IllegalArgumentException.class, () -> vm.mapMemory(0x400000, m, 0x80000, 1 << 20, 0), "past the memory");
            assertThrows(IllegalArgumentException.class, () -> vm.dirtyLog(first), "not logged");
            assertEquals(1, vm.memorySlots().size(), "refusals change nothing");
            vm.mapMemory(0x200000, m); // adjacent is fine
            assertEquals(2, vm.memorySlots().size());
        }
    }

    @Test
    void memoryClosedWhileMappedStaysForTheGuestUntilItsVmLetsGo() throws IOException {
        try (RealModeCode g = new RealModeCode(0x10000, READ_LOOP)) {
            GuestMemory m = GuestMemory.memfd("closed-early", 4096);
            m.putByte(0, (byte) 0x5a);
            g.vm.mapMemory(0x20000, m);
            m.close(); // before the VM: allowed, and deferred
            assertTrue(m.isClosed());
            assertThrows(IllegalStateException.class, () -> m.getByte(0), "closed memory refuses access");
            assertThrows(IllegalStateException.class, () -> g.vm.mapMemory(0x30000, m), "and cannot be mapped again");
            VmExit exit = g.vcpu.run();
            assertInstanceOf(VmExit.IoOut.class, exit);
            assertEquals(0x5a, ((VmExit.IoOut) exit).value(), "the guest still reads the memory");
            assertTrue(mapped("closed-early"), "still mapped for the VM");
            g.vm.close();
            assertFalse(mapped("closed-early"), "released with the VM's last slot");
        }
    }

    @Test
    void memoryClosedWhileMappedIsReleasedWhenItsSlotIsRemoved() throws IOException {
        try (RealModeCode g = new RealModeCode(0x10000, 0xf4)) {
            GuestMemory m = GuestMemory.memfd("slot-removed", 4096);
            MemorySlot first = g.vm.mapMemory(0x20000, m);
            MemorySlot second = g.vm.mapMemory(0x40000, m);
            m.close();
            g.vm.unmapMemory(first);
            assertTrue(mapped("slot-removed"), "one slot still maps it");
            MemorySlot moved = g.vm.moveMemory(second, 0x50000); // a closed memory's slot still moves
            g.vm.unmapMemory(moved);
            assertFalse(mapped("slot-removed"), "released with the last slot");
        }
    }

    /** Whether a memfd named {@code name} is still mapped into this process. */
    private static boolean mapped(String name) throws IOException {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().anyMatch(l -> l.contains("/memfd:" + name + " "));
    }

    @Test
    void guestMemoryBoundsAreChecked() {
        try (GuestMemory m = GuestMemory.anonymous(8192)) {
            m.putLong(8184, -1L);
            assertEquals(-1L, m.getLong(8184));
            assertThrows(IndexOutOfBoundsException.class, () -> m.getLong(8185));
            assertThrows(IndexOutOfBoundsException.class, () -> m.write(8000, new byte[200]));
            assertThrows(IndexOutOfBoundsException.class, () -> m.read(-1, 4));
            assertThrows(IllegalArgumentException.class, () -> GuestMemory.anonymous(1000));
        }
    }

    @Test
    void memfdMemoryIsSharedBetweenMappings() {
        try (GuestMemory a = GuestMemory.memfd("shared", 1 << 20); GuestMemory b = a.mapAgain()) {
            a.putInt(0x1000, 0xfeedface);
            assertEquals(0xfeedface, b.getInt(0x1000));
            assertTrue(a.hostAddress() != b.hostAddress());
        }
    }
}
