package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.kvmctl.Capability;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.KvmException;
import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.guests.devices.DeviceState;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.VcpuEvents;
import java.lang.management.ManagementFactory;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * {@link Checkpoint} on the real /dev/kvm: a ring-3 guest reads a seed and a page count, writes
 * that many distinct pages with values derived from the seed (adding what it finds there to a
 * checksum), bumps a run counter in memory, and reports the checksum. Its work ends on its own
 * exit, not on time. After a reset, a run must report exactly what a run from the checkpoint
 * does, and memory must be the checkpoint's bytes again.
 */
class CheckpointTest {
    private static final long RAM = 4 << 20;
    private static final long CODE = 0x100000;
    private static final long PAGES = 0x220000; // 64 pages the guest writes into: a dirty-log word boundary (page 576) inside
    private static final long COUNTER = 0x300000;
    private static final int INPUT_PORT = 0x510;
    private static final int OUTPUT_PORT = 0x511;
    private static final int EXIT_PORT = 0xf4;
    /** The guest, 64-bit code assembled from CheckpointTest.s beside this file: see {@link #model}. */
    private static final int[] GUEST = {
        0x66, 0xba, 0x10, 0x05, 0xed, 0x89, 0xc3, 0xed, 0x89, 0xc1, 0x31, 0xf6, 0x41, 0xb8, 0x00, 0x00,
        0x30, 0x00, 0x41, 0x8b, 0x00, 0x01, 0xc6, 0xff, 0xc0, 0x41, 0x89, 0x00, 0x45, 0x31, 0xc9, 0x41,
        0x39, 0xc9, 0x73, 0x2b, 0x41, 0x6b, 0xc1, 0x07, 0x01, 0xd8, 0x83, 0xe0, 0x3f, 0xc1, 0xe0, 0x0c,
        0x05, 0x00, 0x00, 0x22, 0x00, 0x03, 0x30, 0xc1, 0xc6, 0x05, 0x89, 0xda, 0x41, 0x0f, 0xaf, 0xd1,
        0x81, 0xc2, 0x45, 0x23, 0x01, 0x00, 0x89, 0x10, 0x31, 0xd6, 0x41, 0xff, 0xc1, 0xeb, 0xd0, 0x66,
        0xba, 0x11, 0x05, 0x89, 0xf0, 0xef, 0x66, 0xba, 0xf4, 0x00, 0x31, 0xc0, 0xee, 0xeb, 0xfe,
    };

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** A VM with the guest loaded, its RAM logged, the page area and counter filled with a pattern. */
    private static final class Guest implements AutoCloseable {
        final Kvm kvm = Kvm.open();
        final GuestMemory ram = GuestMemory.anonymous(RAM);
        final Vm vm = kvm.createVm();
        final MemorySlot slot;
        final Vcpu vcpu;
        final int[] answers = new int[2];
        int answered;
        int output;

        Guest() {
            slot = vm.mapMemory(0, ram, MemorySlot.LOG_DIRTY_PAGES);
            byte[] code = new byte[GUEST.length];
            for (int i = 0; i < code.length; i++) {
                code[i] = (byte) GUEST[i];
            }
            ram.write(CODE, code);
            for (int p = 0; p < 64; p++) {
                ram.fill(PAGES + p * 4096L, 4096, (byte) (0x40 + p));
                ram.putInt(PAGES + p * 4096L, 0xa5000000 | p);
            }
            ram.putInt(COUNTER, 100);
            vcpu = vm.createVcpu(0);
            BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, CODE, RAM, BootInfo.single(RAM));
        }

        /** Runs the guest to its exit with this seed and page count; returns its checksum. */
        int run(int seed, int pages) {
            answers[0] = seed;
            answers[1] = pages;
            answered = 0;
            while (true) {
                VmExit exit = vcpu.run();
                if (exit instanceof VmExit.IoIn in && in.port() == INPUT_PORT && answered < 2) {
                    in.answer(answers[answered++]);
                } else if (exit instanceof VmExit.IoOut out && out.port() == OUTPUT_PORT) {
                    output = out.value();
                } else if (exit instanceof VmExit.IoOut out && out.port() == EXIT_PORT) {
                    return output;
                } else {
                    throw new AssertionError("unexpected exit " + exit);
                }
            }
        }

        @Override
        public void close() {
            vm.close();
            ram.close();
            kvm.close();
        }
    }

    /** What the guest computes from memory as the pattern left it (the checkpoint's state). */
    private static int model(int seed, int pages) {
        int sum = 100; // the counter's value at the checkpoint
        for (int i = 0; i < pages; i++) {
            int page = (i * 7 + seed) & 63;
            sum += 0xa5000000 | page;
            sum = Integer.rotateLeft(sum, 5);
            sum ^= seed * i + 0x12345;
        }
        return sum;
    }

    @ParameterizedTest
    @EnumSource(Checkpoint.Scope.class) // the guest changes only general registers and memory: every scope fits it
    void aResetRunReportsWhatAFreshRunDoesAndMemoryIsTheCheckpoints(Checkpoint.Scope scope) {
        int freshOutput;
        try (Guest fresh = new Guest()) {
            freshOutput = fresh.run(9, 16);
        }
        assertEquals(model(9, 16), freshOutput, "the model of the guest matches a fresh run");

        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, scope)) {
            assertEquals(scope, checkpoint.scope());
            byte[] pristine = g.ram.read(0, (int) RAM);
            int[][] runs = {{1, 16}, {9, 16}, {30, 1}, {2, 64}, {9, 16}, {63, 5}, {9, 16}};
            for (int[] run : runs) {
                int seed = run[0], pages = run[1];
                assertEquals(model(seed, pages), g.run(seed, pages), "seed " + seed + ", " + pages + " pages");
                int copied = checkpoint.reset();
                // its pages and the counter's, and perhaps the page tables' accessed bits: no more
                assertTrue(copied >= pages + 1 && copied <= pages + 8, copied + " pages copied back after " + pages);
                assertArrayEquals(pristine, g.ram.read(0, (int) RAM), "memory after a reset is the checkpoint's");
            }
            assertEquals(freshOutput, g.run(9, 16), "after seven resets the guest still matches a fresh run");
        }
    }

    @Test
    void pagesTheLastRunDidNotWriteKeepTheCheckpointsBytes() {
        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot)) {
            byte[] page0 = g.ram.read(PAGES, 4096);
            g.run(0, 16); // writes page 0 (among others)
            assertTrue(g.ram.getInt(PAGES) != 0xa5000000, "run 1 wrote page 0");
            checkpoint.reset();
            g.run(1, 1);  // writes page 1 only
            assertArrayEquals(page0, g.ram.read(PAGES, 4096), "page 0, dirtied in run 1 only, has the checkpoint's bytes");
            assertEquals(101, g.ram.getInt(COUNTER), "the counter was reset before run 2");
        }
    }

    @ParameterizedTest
    @EnumSource(Checkpoint.Scope.class)
    void resetAllocatesNothing(Checkpoint.Scope scope) {
        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, scope)) {
            assertRunsAndResetsAllocateNothing(g, checkpoint);
        }
    }

    /** 3,000 runs and resets, after 3,000 more to let the JIT compile the loop, allocate under 4 KiB: one object per reset would be > 48 KB. */
    private static void assertRunsAndResetsAllocateNothing(Guest g, Checkpoint checkpoint) {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        long sink = 0;
        for (int i = 0; i < 3000; i++) { // let the JIT compile the loop
            sink += g.run(i, 16) + checkpoint.reset();
        }
        long before = threads.getThreadAllocatedBytes(self);
        for (int i = 0; i < 3000; i++) {
            sink += g.run(i, 16) + checkpoint.reset();
        }
        long allocated = threads.getThreadAllocatedBytes(self) - before;
        assertTrue(sink != 0);
        assertTrue(allocated < 4096, allocated + " bytes allocated over 3000 runs and resets");
    }

    /** The state a reset writes back, read from the vCPU with the ioctls (what a capture sees). */
    private static void assertCheckpointState(VcpuContext expected, Vcpu vcpu, String when) {
        VcpuContext now = new VcpuContext(vcpu.vm().kvm(), false);
        now.capture(vcpu);
        assertEquals(expected.regs(), now.regs(), "regs " + when);
        assertEquals(expected.sregs(), now.sregs(), "sregs " + when);
        assertEquals(expected.events(), now.events(), "vCPU events " + when);
        assertEquals(expected.mpState(), now.mpState(), "MP state " + when);
        assertEquals(expected.xsave(), now.xsave(), "XSAVE " + when);
    }

    /** Changes what a guest with more privilege could: a special register and an event, checked to have taken. */
    private static void disturbSregsAndEvents(Vcpu vcpu) {
        vcpu.setSregs(vcpu.getSregs().cr2(0x5eed000));
        vcpu.setVcpuEvents(vcpu.getVcpuEvents(new VcpuEvents()).nmiMasked(true));
        assertEquals(0x5eed000, vcpu.getSregs().cr2(), "the test's sregs change took");
        assertTrue(vcpu.getVcpuEvents(new VcpuEvents()).nmiMasked(), "the test's events change took");
    }

    private static final int ALL_SYNC = Vcpu.SYNC_REGS | Vcpu.SYNC_SREGS | Vcpu.SYNC_EVENTS;

    @Test
    void aResetThroughSyncRegsRestoresRegsSregsAndEventsEvenForACaptureBeforeTheNextRun() {
        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.NO_MSRS)) {
            assumeTrue((g.vm.checkExtension(Capability.SYNC_REGS) & ALL_SYNC) == ALL_SYNC,
                    "KVM here does not sync regs, sregs and events through kvm_run");
            assertTrue(checkpoint.resetsThroughSyncRegs(), "NO_MSRS without an irqchip on a kernel that syncs all three");
            VcpuContext mark = checkpoint.vcpuContext(0);
            g.run(5, 16);
            disturbSregsAndEvents(g.vcpu);
            checkpoint.reset();
            assertEquals(ALL_SYNC, g.vcpu.syncDirtyRegs(), "the reset left regs, sregs and events for the next entry");
            // no KVM_RUN in between: the capture's first ioctl applies them, so it sees the checkpoint
            assertCheckpointState(mark, g.vcpu, "captured right after a reset");
            assertEquals(0, g.vcpu.syncDirtyRegs(), "applied once, by the capture's ioctls");

            // a set after the reset wins over it, as after an ioctl reset
            g.run(6, 16);
            checkpoint.reset();
            Regs changed = new Regs();
            changed.copyFrom(mark.regs());
            changed.rbx(0xabcdef);
            g.vcpu.setRegs(changed);
            assertEquals(0, g.vcpu.syncDirtyRegs(), "nothing left for KVM_RUN to apply over the set");
            assertEquals(changed, g.vcpu.getRegs());
            assertEquals(mark.sregs(), g.vcpu.getSregs(), "the reset's sregs, applied before the set");

            // and through the kernel's own path: a run from the reset state, then one more reset
            g.vcpu.setRegs(mark.regs());
            checkpoint.reset();
            assertEquals(model(9, 16), g.run(9, 16), "KVM_RUN applied the synced state: the run is a fresh one");
            assertEquals(0, g.vcpu.syncDirtyRegs(), "KVM cleared the bits it applied");
            disturbSregsAndEvents(g.vcpu);
            checkpoint.reset();
            checkpoint.reset(); // twice with no run: the second's ioctls apply the first's pending sets
            assertCheckpointState(mark, g.vcpu, "after two resets with no run between");
        }
    }

    @Test
    void theIoctlFallbackRestoresTheSameState() {
        try (Guest g = new Guest();
             Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.NO_MSRS, List.of(), false)) {
            assertFalse(checkpoint.resetsThroughSyncRegs());
            VcpuContext mark = checkpoint.vcpuContext(0);
            g.run(5, 16);
            disturbSregsAndEvents(g.vcpu);
            checkpoint.reset();
            assertEquals(0, g.vcpu.syncDirtyRegs(), "the fallback sets every part by ioctl");
            assertCheckpointState(mark, g.vcpu, "after an ioctl reset");
            assertEquals(model(9, 16), g.run(9, 16));
        }
        // the other scopes never use the page
        for (Checkpoint.Scope scope : new Checkpoint.Scope[] {Checkpoint.Scope.ALL, Checkpoint.Scope.REGISTERS}) {
            try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, scope)) {
                assertFalse(checkpoint.resetsThroughSyncRegs(), scope.toString());
                g.run(5, 16);
                checkpoint.reset();
                assertEquals(0, g.vcpu.syncDirtyRegs(), scope.toString());
            }
        }
    }

    @Test
    void aPendingSyncedSetKvmRefusesIsReportedByTheCallThatAppliesItThenDropped() {
        try (Guest g = new Guest()) {
            SRegs bad = g.vcpu.getSregs();
            bad.cr4(bad.cr4() & ~0x20L); // long-mode paging without CR4.PAE: KVM refuses it
            g.vcpu.writeSyncedSregs(bad);
            g.vcpu.syncDirtyRegs(Vcpu.SYNC_SREGS);
            KvmException e = assertThrows(KvmException.class, () -> g.vcpu.getRegs());
            assertTrue(e.getMessage().contains("KVM_SET_SREGS"), e.getMessage());
            assertEquals(0, g.vcpu.syncDirtyRegs(), "dropped, not retried by every later call");
            assertTrue((g.vcpu.getSregs().cr4() & 0x20L) != 0, "the vCPU kept its valid special registers");
            assertEquals(model(9, 16), g.run(9, 16), "and runs as before");
        }
    }

    @Test
    void aResetOfAClosedVcpuThroughSyncRegsThrows() {
        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.NO_MSRS)) {
            g.run(3, 16);
            g.vcpu.close();
            IllegalStateException e = assertThrows(IllegalStateException.class, checkpoint::reset);
            assertTrue(e.getMessage().contains("closed"), e.getMessage());
        }
    }

    @Test
    void aSlotWithoutDirtyLoggingIsRefused() {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(1 << 20); Vm vm = kvm.createVm()) {
            MemorySlot slot = vm.mapMemory(0, ram);
            vm.createVcpu(0);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Checkpoint.mark(vm, slot));
            assertTrue(e.getMessage().contains("LOG_DIRTY_PAGES"), e.getMessage());
        }
    }

    @Test
    void aVmWithoutVcpusIsRefused() {
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.anonymous(1 << 20); Vm vm = kvm.createVm()) {
            MemorySlot slot = vm.mapMemory(0, ram, MemorySlot.LOG_DIRTY_PAGES);
            assertThrows(IllegalArgumentException.class, () -> Checkpoint.mark(vm, slot));
        }
    }

    @Test
    void resetAfterCloseThrowsInsteadOfCrashing() {
        Guest g = new Guest();
        Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot);
        g.run(3, 16);
        g.close(); // VM, RAM and KVM closed under the checkpoint
        IllegalStateException e = assertThrows(IllegalStateException.class, checkpoint::reset);
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        checkpoint.close();
        checkpoint.close();
        assertThrows(IllegalStateException.class, checkpoint::reset);

        try (Guest h = new Guest()) {
            Checkpoint closedFirst = Checkpoint.mark(h.vm, h.slot);
            closedFirst.close();
            assertThrows(IllegalStateException.class, closedFirst::reset);
        }
        try (Guest h = new Guest(); Checkpoint checkpoint2 = Checkpoint.mark(h.vm, h.slot)) {
            h.run(4, 16);
            h.ram.close(); // the slot keeps the mapping; the reset must refuse to copy into it
            assertThrows(IllegalStateException.class, checkpoint2::reset);
        }
    }

    /** A device model of the VMM's: a counter the host changes between runs, and what it was handed back. */
    private static class CounterDevice implements DeviceState {
        final String name;
        long count;
        int restoredVersion = -1;

        CounterDevice(String name, long count) {
            this.name = name;
            this.count = count;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public int version() {
            return 3;
        }

        @Override
        public byte[] save() {
            return java.nio.ByteBuffer.allocate(8).putLong(count).array();
        }

        @Override
        public void restore(int version, byte[] state) {
            restoredVersion = version;
            count = java.nio.ByteBuffer.wrap(state).getLong();
            state[0] = 0x7f; // a device may scribble on what it was given: the next reset must not see it
        }
    }

    @Test
    void aResetHandsEachDeviceModelTheStateItHadAtTheMark() {
        CounterDevice uart = new CounterDevice("uart", 41);
        CounterDevice timer = new CounterDevice("timer", 7);
        try (Guest g = new Guest();
             Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.NO_MSRS, List.of(uart, timer))) {
            for (int round = 0; round < 3; round++) {
                assertEquals(model(round, 16), g.run(round, 16));
                uart.count += 1000;
                timer.count = -1;
                checkpoint.reset();
                assertEquals(41, uart.count, "round " + round);
                assertEquals(7, timer.count, "round " + round);
                assertEquals(3, uart.restoredVersion);
            }
        }
    }

    @Test
    void devicesThatCannotBeResetAreRefusedAtTheMark() {
        try (Guest g = new Guest()) {
            IllegalArgumentException twice = assertThrows(IllegalArgumentException.class, () -> Checkpoint.mark(g.vm, g.slot,
                    Checkpoint.Scope.ALL, List.of(new CounterDevice("uart", 1), new CounterDevice("uart", 2))));
            assertEquals("two devices are named \"uart\"; give each a distinct name", twice.getMessage());
            DeviceState nothing = new CounterDevice("void", 0) {
                @Override
                public byte[] save() {
                    return null;
                }
            };
            IllegalArgumentException saved = assertThrows(IllegalArgumentException.class,
                    () -> Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.ALL, List.of(nothing)));
            assertEquals("device \"void\" saved null; save an empty array for no state", saved.getMessage());
        }
    }

    @Test
    void aRemovedSlotIsRefused() {
        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot)) {
            g.vm.unmapMemory(g.slot);
            assertThrows(IllegalArgumentException.class, checkpoint::reset);
        }
    }

    // ---- Tracking.KEEP_WRITABLE: pages stay writable and are copied back at every reset ----

    /** The guest's pages (0 to 63) a run with this seed and page count writes. */
    private static java.util.Set<Integer> pagesOf(int seed, int pages) {
        java.util.Set<Integer> written = new java.util.TreeSet<>();
        for (int i = 0; i < pages; i++) {
            written.add((i * 7 + seed) & 63);
        }
        return written;
    }

    private static Checkpoint keepWritable(Guest g, int reprotectAbove) {
        return Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.NO_MSRS, List.of(), Checkpoint.Tracking.KEEP_WRITABLE, reprotectAbove);
    }

    @Test
    void keepWritableCopiesBackEveryPageWrittenSinceTheMarkAndMemoryIsTheMarksEverywhere() {
        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.NO_MSRS, List.of(),
                Checkpoint.Tracking.KEEP_WRITABLE)) {
            assumeTrue(checkpoint.tracking() == Checkpoint.Tracking.KEEP_WRITABLE, "no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 here");
            assertTrue(g.vm.manualDirtyLogProtect(), "the mark turned manual protection on for the VM");
            assertEquals(RAM / 4096 / 8, checkpoint.reprotectAbove(), "the default limit: an eighth of the slot");
            byte[] pristine = g.ram.read(0, (int) RAM);
            java.util.Set<Integer> sticky = new java.util.TreeSet<>();
            // different pages in different runs: run 2 writes one page run 1 did not, run 3 one of run 1's
            int[][] runs = {{0, 16}, {1, 1}, {0, 1}, {30, 5}, {9, 16}, {1, 1}};
            for (int[] run : runs) {
                int seed = run[0], pages = run[1];
                assertEquals(model(seed, pages), g.run(seed, pages), "seed " + seed + ", " + pages + " pages, after a sticky reset");
                sticky.addAll(pagesOf(seed, pages));
                int copied = checkpoint.reset();
                // every page written since the mark and the counter's, perhaps page-table pages: no more
                assertTrue(copied >= sticky.size() + 1 && copied <= sticky.size() + 8,
                        copied + " pages copied back, " + sticky.size() + " guest pages written since the mark");
                assertArrayEquals(pristine, g.ram.read(0, (int) RAM), "the whole slot after a reset is the mark's");
            }
        }
    }

    @Test
    void aResetPastTheLimitReprotectsTheSetAndLaterResetsStayExact() {
        try (Guest g = new Guest(); Checkpoint checkpoint = keepWritable(g, 30)) {
            assumeTrue(checkpoint.tracking() == Checkpoint.Tracking.KEEP_WRITABLE, "no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 here");
            assertEquals(30, checkpoint.reprotectAbove());
            byte[] pristine = g.ram.read(0, (int) RAM);
            g.run(5, 16);
            int copied = checkpoint.reset();
            assertTrue(copied >= 17 && copied <= 24, copied + " pages: under the limit, they stay writable");
            g.run(2, 64);
            copied = checkpoint.reset();
            assertTrue(copied >= 65, copied + " pages: past the limit, this reset re-protects them all");
            assertArrayEquals(pristine, g.ram.read(0, (int) RAM), "memory after the re-protecting reset");
            assertEquals(model(30, 1), g.run(30, 1), "a run after the re-protect reads the mark's bytes");
            copied = checkpoint.reset();
            assertTrue(copied >= 2 && copied <= 9, copied + " pages: the set started empty again");
            assertArrayEquals(pristine, g.ram.read(0, (int) RAM), "memory after a reset that follows a re-protect");
            assertEquals(model(9, 3), g.run(9, 3), "and the next run too");
            copied = checkpoint.reset();
            java.util.Set<Integer> sticky = pagesOf(30, 1);
            sticky.addAll(pagesOf(9, 3));
            assertTrue(copied >= sticky.size() + 1 && copied <= sticky.size() + 8, copied + " pages: run 3's page is sticky again");
            assertArrayEquals(pristine, g.ram.read(0, (int) RAM), "memory after the last reset");
        }
    }

    @Test
    void keepWritableResetAllocatesNothingAcrossReprotects() {
        // a limit of 40: the seeds walk over all 64 pages, so some resets re-protect the set
        try (Guest g = new Guest(); Checkpoint checkpoint = keepWritable(g, 40)) {
            assumeTrue(checkpoint.tracking() == Checkpoint.Tracking.KEEP_WRITABLE, "no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 here");
            assertRunsAndResetsAllocateNothing(g, checkpoint);
        }
    }

    @Test
    void withoutTheCapabilityKeepWritableFallsBackToReprotectAndSaysSo() {
        try (Guest g = new Guest(); Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot, Checkpoint.Scope.NO_MSRS, List.of(),
                Checkpoint.Tracking.KEEP_WRITABLE, 100, true, false)) {
            assertEquals(Checkpoint.Tracking.REPROTECT, checkpoint.tracking());
            assertFalse(g.vm.manualDirtyLogProtect(), "the VM was left as it was");
            byte[] pristine = g.ram.read(0, (int) RAM);
            g.run(0, 16);
            checkpoint.reset();
            g.run(1, 1);
            int copied = checkpoint.reset();
            assertTrue(copied >= 2 && copied <= 9, copied + " pages: only the last run's");
            assertArrayEquals(pristine, g.ram.read(0, (int) RAM));
        }
    }

    @Test
    void aReprotectCheckpointOnAVmWithManualProtectionStillCopiesOnlyTheLastRunsPages() {
        try (Guest g = new Guest()) {
            assumeTrue((g.kvm.checkExtension(Capability.MANUAL_DIRTY_LOG_PROTECT2) & 1) != 0, "no KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 here");
            g.vm.enableCap(Capability.MANUAL_DIRTY_LOG_PROTECT2, 1, 0); // as a KEEP_WRITABLE checkpoint of another slot does
            assertTrue(g.vm.manualDirtyLogProtect());
            try (Checkpoint checkpoint = Checkpoint.mark(g.vm, g.slot)) {
                assertEquals(Checkpoint.Tracking.REPROTECT, checkpoint.tracking());
                byte[] pristine = g.ram.read(0, (int) RAM);
                g.run(0, 16);
                int copied = checkpoint.reset();
                assertTrue(copied >= 17 && copied <= 24, copied + " pages after run 1");
                assertArrayEquals(pristine, g.ram.read(0, (int) RAM));
                assertEquals(model(1, 1), g.run(1, 1));
                copied = checkpoint.reset();
                assertTrue(copied >= 2 && copied <= 9, copied + " pages: only run 2's, re-protected by KVM_CLEAR_DIRTY_LOG");
                assertArrayEquals(pristine, g.ram.read(0, (int) RAM));
            }
        }
    }

    @Test
    void aNegativeLimitIsRefused() {
        try (Guest g = new Guest()) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> keepWritable(g, -1));
            assertTrue(e.getMessage().contains("reprotectAbove"), e.getMessage());
            assertFalse(g.vm.manualDirtyLogProtect(), "nothing was changed");
        }
    }
}
