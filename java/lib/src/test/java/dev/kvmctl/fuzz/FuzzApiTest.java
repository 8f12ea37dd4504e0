package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.KvmException;
import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.soak.ProcessResources;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Absurd sizes and bad addresses through the API: guest memory sizes, slots at random
 * guest-physical addresses, offsets and sizes, guest-physical reads and writes anywhere, vCPUs
 * with any id. Every call must either work or be refused with {@link IllegalArgumentException}
 * (Java saw the mistake), {@link IndexOutOfBoundsException} (an offset outside a region),
 * {@link IllegalStateException} (a limit reached) or {@link KvmException} (the kernel said no) —
 * and what was refused must leave nothing behind.
 *
 * <p>{@code -Dkvmctl.fuzz.seed=N} repeats a run; {@code -Dkvmctl.fuzz.scale=K} multiplies the tries.
 */
class FuzzApiTest {
    static final long SEED = Long.getLong("kvmctl.fuzz.seed", System.nanoTime());
    static final int SCALE = Integer.getInteger("kvmctl.fuzz.scale", 1);
    private static final long PAGE = GuestMemory.PAGE_SIZE;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
        System.out.println("fuzz: FuzzApiTest seed " + SEED + " (-Dkvmctl.fuzz.seed to repeat)");
    }

    /** Values that break naive range checks, plus random ones of every magnitude. */
    static long interestingLong(SplittableRandom rnd) {
        long[] edges = {0, 1, -1, PAGE - 1, PAGE, PAGE + 1, 2 * PAGE, 1L << 20, (1L << 20) - PAGE, 1L << 31, 1L << 32,
            (1L << 32) - PAGE, 1L << 40, 1L << 46, 1L << 47, 1L << 52, 1L << 57, 1L << 62, Long.MAX_VALUE,
            Long.MAX_VALUE - PAGE + 1, Long.MIN_VALUE, Long.MIN_VALUE + PAGE, -PAGE, 0xfffff000L, 0xfee00000L};
        switch (rnd.nextInt(4)) {
            case 0:
                return edges[rnd.nextInt(edges.length)];
            case 1:
                return edges[rnd.nextInt(edges.length)] + (rnd.nextInt(3) - 1) * PAGE;
            case 2:
                return (rnd.nextLong() >>> rnd.nextInt(64)) & (rnd.nextBoolean() ? ~(PAGE - 1) : -1L);
            default:
                return rnd.nextLong(1L << 24) * (rnd.nextBoolean() ? PAGE : 1);
        }
    }

    /** Runs {@code call}; returns what it threw if that is one of the accepted refusals, else fails. */
    static Throwable refusal(String what, Supplier<?> call) {
        try {
            call.get();
            return null;
        } catch (IllegalArgumentException | IndexOutOfBoundsException | IllegalStateException | KvmException e) {
            return e;
        } catch (Throwable t) {
            throw new AssertionError(what + " threw " + t + " instead of a typed refusal", t);
        }
    }

    @Test
    void guestMemoryOfEverySize() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Tally tally = new Tally("GuestMemory sizes");
        ProcessResources before = ProcessResources.take(false);
        List<Long> sizes = new ArrayList<>(List.of(0L, -1L, -PAGE, Long.MIN_VALUE, 1L, PAGE - 1, PAGE + 1, 12345L,
                Long.MAX_VALUE, Long.MAX_VALUE & ~(PAGE - 1), 1L << 62, 1L << 47, 1L << 46, 1L << 40, 1L << 36, PAGE, 1L << 20));
        for (int i = 0; i < 200 * SCALE; i++) {
            sizes.add(interestingLong(rnd));
        }
        for (long size : sizes) {
            for (int kind = 0; kind < 2; kind++) {
                boolean memfd = kind == 1;
                GuestMemory[] made = new GuestMemory[1];
                Throwable t = refusal("GuestMemory." + (memfd ? "memfd" : "anonymous") + "(" + size + ")", () ->
                        made[0] = memfd ? GuestMemory.memfd("fuzz", size) : GuestMemory.anonymous(size));
                tally.add((memfd ? "memfd " : "anonymous ") + Tally.of(t));
                boolean valid = size > 0 && size % PAGE == 0;
                if (!valid) {
                    assertTrue(t instanceof IllegalArgumentException, "size " + size + " must be refused by Java, got " + t);
                }
                if (made[0] != null) {
                    try (GuestMemory m = made[0]) {
                        assertEquals(size, m.size());
                        m.putByte(0, (byte) 1);          // touches one page at each end, nothing more
                        m.putByte(size - 1, (byte) 2);
                        assertEquals(2, m.getByte(size - 1));
                    }
                }
            }
        }
        tally.print();
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), "refused or closed guest memory left " + leaks);
    }

    @Test
    void slotsAtRandomAddressesOffsetsAndSizes() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Tally tally = new Tally("Vm.mapMemory/move/unmap");
        ProcessResources before = ProcessResources.take(false);
        int ops = 0;
        try (Kvm kvm = Kvm.open()) {
            for (int round = 0; round < 20 * SCALE; round++) {
                try (GuestMemory small = GuestMemory.anonymous(16 * PAGE);
                     GuestMemory shared = GuestMemory.memfd("fuzz-slots", 256 * PAGE);
                     Vm vm = kvm.createVm()) {
                    GuestMemory[] memories = {small, shared};
                    for (int i = 0; i < 100; i++, ops++) {
                        List<MemorySlot> slots = vm.memorySlots();
                        int op = rnd.nextInt(10);
                        if (op < 6 || slots.isEmpty()) {
                            GuestMemory m = memories[rnd.nextInt(2)];
                            long gpa = interestingLong(rnd);
                            long offset = rnd.nextInt(3) == 0 ? interestingLong(rnd) : rnd.nextLong(m.size() / PAGE + 1) * PAGE;
                            long size = rnd.nextInt(3) == 0 ? interestingLong(rnd) : (1 + rnd.nextLong(m.size() / PAGE)) * PAGE;
                            int flags = rnd.nextInt(4) == 0 ? rnd.nextInt() : rnd.nextInt(4);
                            Throwable t = refusal("mapMemory", () -> vm.mapMemory(gpa, m, offset, size, flags));
                            tally.add("map " + Tally.of(t));
                            boolean javaCanTell = gpa % PAGE != 0 || offset % PAGE != 0 || size % PAGE != 0 || size <= 0
                                    || offset < 0 || offset > m.size() - size || gpa < 0 || gpa + size < gpa;
                            if (javaCanTell && !(t instanceof IllegalArgumentException)) {
                                fail(String.format("mapMemory(0x%x, %s, 0x%x, 0x%x, 0x%x) should be refused by Java, got %s",
                                        gpa, m, offset, size, flags, t));
                            }
                        } else if (op < 8) {
                            MemorySlot s = slots.get(rnd.nextInt(slots.size()));
                            long to = interestingLong(rnd);
                            tally.add("move " + Tally.of(refusal("moveMemory", () -> vm.moveMemory(s, to))));
                        } else {
                            MemorySlot s = slots.get(rnd.nextInt(slots.size()));
                            tally.add("unmap " + Tally.of(refusal("unmapMemory", () -> {
                                vm.unmapMemory(s);
                                return null;
                            })));
                            // The same slot again, now stale: Java must refuse it.
                            assertTrue(refusal("unmap twice", () -> {
                                vm.unmapMemory(s);
                                return null;
                            }) instanceof IllegalArgumentException);
                        }
                        checkNoOverlap(vm.memorySlots());
                    }
                    // Slots of one VM handed to another are refused.
                    if (!vm.memorySlots().isEmpty()) {
                        try (Vm other = kvm.createVm()) {
                            MemorySlot foreign = vm.memorySlots().get(0);
                            assertTrue(refusal("foreign slot", () -> {
                                other.unmapMemory(foreign);
                                return null;
                            }) instanceof IllegalArgumentException);
                        }
                    }
                }
                // try-with-resources closed the VM before the memory: a refused close would have thrown
            }
        }
        tally.print();
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), ops + " slot operations left " + leaks);
    }

    private static void checkNoOverlap(List<MemorySlot> slots) {
        Set<Integer> ids = new HashSet<>();
        for (int i = 0; i < slots.size(); i++) {
            assertTrue(ids.add(slots.get(i).id()), "slot id used twice: " + slots);
            if (i > 0) {
                assertTrue(slots.get(i - 1).guestEnd() <= slots.get(i).guestAddress(), "overlapping slots " + slots);
            }
        }
    }

    @Test
    void guestPhysicalReadsAndWritesAnywhere() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        Tally tally = new Tally("Vm.read/write");
        try (Kvm kvm = Kvm.open();
             GuestMemory low = GuestMemory.anonymous(64 * PAGE);
             GuestMemory high = GuestMemory.memfd("fuzz-rw", 16 * PAGE);
             Vm vm = kvm.createVm()) {
            vm.mapMemory(0, low);
            vm.mapMemory(1L << 32, high, 4 * PAGE, 8 * PAGE, 0);
            for (int i = 0; i < 20_000 * SCALE; i++) {
                long gpa = rnd.nextInt(3) == 0 ? interestingLong(rnd)
                        : rnd.nextBoolean() ? rnd.nextLong(70 * PAGE) - PAGE : (1L << 32) + rnd.nextLong(10 * PAGE) - PAGE;
                int length = rnd.nextInt(5) == 0 ? (int) interestingLong(rnd) : rnd.nextInt(3 * (int) PAGE);
                boolean write = rnd.nextBoolean();
                boolean inside = (gpa >= 0 && length >= 0 && gpa <= 64 * PAGE - length)
                        || (gpa >= (1L << 32) && length >= 0 && gpa - (1L << 32) <= 8 * PAGE - length);
                Throwable t;
                if (write && length >= 0 && length <= 1 << 20) {
                    byte[] data = new byte[length];
                    rnd.nextBytes(data);
                    t = refusal("write", () -> {
                        vm.write(gpa, data);
                        return null;
                    });
                    if (t == null) {
                        assertTrue(Arrays.equals(data, vm.read(gpa, length)), "read back what was written");
                    }
                } else {
                    t = refusal("read", () -> vm.read(gpa, length));
                }
                tally.add((write ? "write " : "read ") + Tally.of(t));
                if (inside != (t == null)) {
                    fail(String.format("%s at 0x%x length %d: inside a slot %s, but got %s", write ? "write" : "read",
                            gpa, length, inside, t));
                }
            }
            // The high slot maps offset 4 pages of its memory: the bytes land there.
            vm.write((1L << 32) + 8, new byte[] {42});
            assertEquals(42, high.getByte(4 * PAGE + 8));
        }
        tally.print();
    }

    @Test
    void vcpusWithAnyId() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        Tally tally = new Tally("Vm.createVcpu ids");
        ProcessResources before = ProcessResources.take(false);
        try (Kvm kvm = Kvm.open()) {
            int max = kvm.maxVcpus();
            for (int round = 0; round < 5 * SCALE; round++) {
                try (Vm vm = kvm.createVm()) {
                    Set<Integer> created = new HashSet<>();
                    int[] edges = {0, 1, -1, max - 1, max, max + 1, Integer.MAX_VALUE, Integer.MIN_VALUE, 1 << 20, 4095, 4096};
                    for (int i = 0; i < 60; i++) {
                        int id = rnd.nextBoolean() ? edges[rnd.nextInt(edges.length)] : rnd.nextInt(3) == 0 ? rnd.nextInt() : rnd.nextInt(64);
                        Vcpu[] v = new Vcpu[1];
                        Throwable t = refusal("createVcpu(" + id + ")", () -> v[0] = vm.createVcpu(id));
                        tally.add(t == null ? "created" : t instanceof KvmException k ? "KvmException " + k.errnoName() : Tally.of(t));
                        if (t == null) {
                            assertTrue(created.add(id), "vCPU id " + id + " created twice");
                            assertEquals(id, v[0].id());
                            v[0].getRegs();
                            if (rnd.nextInt(4) == 0) {
                                v[0].close();
                                created.remove(id); // KVM keeps the id taken; Java forgets the object
                                created.add(id);
                            }
                        } else if (created.contains(id)) {
                            assertTrue(t instanceof KvmException k && k.errnoName().equals("EEXIST"), "duplicate id " + id + ": " + t);
                        }
                    }
                }
            }
        }
        tally.print();
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), "vCPUs left " + leaks);
    }

    @Test
    void guestMemoryAccessorsAtAnyOffset() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        Tally tally = new Tally("GuestMemory accessors");
        try (GuestMemory m = GuestMemory.memfd("fuzz-access", 8 * PAGE);
             GuestMemory other = GuestMemory.anonymous(2 * PAGE)) {
            for (int i = 0; i < 20_000 * SCALE; i++) {
                long offset = rnd.nextInt(3) == 0 ? interestingLong(rnd) : rnd.nextLong(10 * PAGE) - PAGE;
                long length = rnd.nextInt(4) == 0 ? interestingLong(rnd) : rnd.nextLong(3 * PAGE);
                int op = rnd.nextInt(9);
                Throwable t = refusal("accessor " + op, () -> {
                    switch (op) {
                        case 0 -> m.getLong(offset);
                        case 1 -> m.putInt(offset, 7);
                        case 2 -> m.fill(offset, length, (byte) 1);
                        case 3 -> m.isZero(offset, length);
                        case 4 -> m.slice(offset, (int) Math.min(length, Integer.MAX_VALUE));
                        case 5 -> m.discard(offset, length);
                        case 6 -> m.copyFrom(other, rnd.nextLong(3 * PAGE), offset, length);
                        case 7 -> m.write(offset, new byte[(int) Math.min(Math.max(length, 0), 3 * PAGE)]);
                        default -> {
                            int n = (int) Math.min(Math.max(length, 0), 3 * PAGE);
                            m.read(offset, new byte[n], 0, n);
                        }
                    }
                    return null;
                });
                tally.add(op + ":" + Tally.of(t));
            }
        }
        tally.print();
    }

    // ---- bugs found by fuzzing: these fail until kvmctl refuses the input ----

    /**
     * {@code GuestMemory.read(offset, length)} allocates the result before checking the range, so
     * an absurd length gives {@link OutOfMemoryError} or {@link NegativeArraySizeException} instead
     * of the {@link IndexOutOfBoundsException} every other accessor gives.
     */
    @Test
    void readWithAnAbsurdLengthIsAnOutOfRangeAccess() {
        try (GuestMemory m = GuestMemory.anonymous(PAGE)) {
            assertThrows(IndexOutOfBoundsException.class, () -> m.read(0, -1));
            assertThrows(IndexOutOfBoundsException.class, () -> m.read(0, Integer.MAX_VALUE));
            assertThrows(IndexOutOfBoundsException.class, () -> m.read(PAGE, Integer.MAX_VALUE - 8));
        }
    }

    /**
     * {@code new Xsave(16)} then {@code vcpu.getXsave(x)}: KVM_GET_XSAVE writes the kernel's whole
     * XSAVE area (4 KiB or more) into a 16-byte buffer and corrupts the native heap (glibc aborts
     * the JVM: "free(): invalid pointer"). Run in a child JVM.
     */
    @Test
    void anXsaveAreaSmallerThanTheKernelsIsRefused() throws Exception {
        Isolated.Outcome o = Isolated.run(Duration.ofSeconds(60), List.of(), "xsave-small", "16");
        assertRefused(o);
    }

    /**
     * An {@code Msrs} whose count field says more entries than it has room for (set through
     * {@code load}/{@code readFrom} of raw bytes, as a context or snapshot is): KVM_GET_MSRS writes
     * that many entries back past the end of the buffer and corrupts the native heap. Run in a child JVM.
     */
    @Test
    void anMsrListWhoseCountExceedsItsCapacityIsRefused() throws Exception {
        Isolated.Outcome o = Isolated.run(Duration.ofSeconds(60), List.of(), "msrs-count", "200");
        assertRefused(o);
    }

    /**
     * {@code GuestMemory.mapFile(file, 0, size)} with {@code size} beyond the end of the file maps
     * it anyway; touching a page past the end raises SIGBUS, which kills the JVM (or surfaces as
     * {@link InternalError}). Run in a child JVM.
     */
    @Test
    void mappingAFileBeyondItsEndIsRefused() throws Exception {
        Isolated.Outcome o = Isolated.run(Duration.ofSeconds(60), List.of(), "mapfile-beyond-eof");
        assertRefused(o);
    }

    private static void assertRefused(Isolated.Outcome o) {
        String result = o.resultLine();
        assertNotNull(result, "the child printed no result: " + o.describe());
        assertFalse(o.timedOut(), o.describe());
        assertTrue(result.startsWith("RESULT refused java.lang.IllegalArgumentException")
                || result.startsWith("RESULT refused dev.kvmctl.KvmException")
                || result.startsWith("RESULT refused dev.kvmctl.guests.GuestImageException"),
                "expected a refusal, got: " + result + "\n" + o.describe());
        assertEquals(0, o.status(), o.describe());
    }
}
