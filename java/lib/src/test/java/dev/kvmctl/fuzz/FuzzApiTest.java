package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kvmctl.Capability;
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
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Absurd sizes and bad addresses through the API: guest memory sizes, slots at random
 * guest-physical addresses, offsets and sizes, guest-physical reads and writes anywhere, vCPUs
 * with any id, memory accessors at any offset. Each part knows which calls are well-formed (from
 * the documented rules and KVM's stated limits, and a model of the slots it made) and requires
 * exactly those to work and do what they say; every other call must be refused with the
 * documented exception: {@link IllegalArgumentException} (Java saw the mistake),
 * {@link IndexOutOfBoundsException} (an offset outside a region) or {@link KvmException} naming the
 * ioctl (the kernel said no) — and what was refused must leave nothing behind.
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

    /** Valid sizes up to this must be mapped on any host; larger ones may meet the host's limits (a {@link KvmException}). */
    private static final long ALWAYS_MAPPABLE = 256L << 20;

    @Test
    void guestMemoryOfEverySize() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Tally tally = new Tally("GuestMemory sizes");
        ProcessResources before = ProcessResources.take(false);
        List<Long> sizes = new ArrayList<>(List.of(0L, -1L, -PAGE, Long.MIN_VALUE, 1L, PAGE - 1, PAGE + 1, 12345L,
                Long.MAX_VALUE, Long.MAX_VALUE & ~(PAGE - 1), 1L << 62, 1L << 47, 1L << 46, 1L << 40, 1L << 36, PAGE, 1L << 20,
                ALWAYS_MAPPABLE, ALWAYS_MAPPABLE + PAGE));
        for (int i = 0; i < 200 * SCALE; i++) {
            // Half from the edges and all magnitudes, half page multiples that every host can map.
            sizes.add(rnd.nextBoolean() ? interestingLong(rnd) : PAGE * (1 + rnd.nextLong(ALWAYS_MAPPABLE / PAGE)));
        }
        int mapped = 0;
        for (long size : sizes) {
            for (int kind = 0; kind < 2; kind++) {
                boolean memfd = kind == 1;
                String call = "GuestMemory." + (memfd ? "memfd" : "anonymous") + "(" + size + ")";
                GuestMemory[] made = new GuestMemory[1];
                Throwable t = refusal(call, () ->
                        made[0] = memfd ? GuestMemory.memfd("fuzz", size) : GuestMemory.anonymous(size));
                tally.add((memfd ? "memfd " : "anonymous ") + Tally.of(t));
                boolean valid = size > 0 && size % PAGE == 0;
                if (!valid) {
                    assertTrue(t instanceof IllegalArgumentException && t.getMessage().equals(
                            "guest memory size must be a positive multiple of 4 KiB, got " + size), call + " must be refused by Java, got " + t);
                } else if (size <= ALWAYS_MAPPABLE) {
                    assertNull(t, call + " must succeed");
                } else if (t != null) {
                    // Beyond what every host allows: the host may refuse, and must be named.
                    assertTrue(t instanceof KvmException k && Set.of("mmap", "ftruncate").contains(k.operation()),
                            call + ": a valid size may only be refused by the host, got " + t);
                }
                if (made[0] != null) {
                    try (GuestMemory m = made[0]) {
                        assertEquals(size, m.size());
                        m.putByte(0, (byte) 1);          // touches one page at each end, nothing more
                        m.putByte(size - 1, (byte) 2);
                        assertEquals(1, m.getByte(0));
                        assertEquals(2, m.getByte(size - 1));
                        if (size > 2 * PAGE) {
                            assertEquals(0, m.getByte(PAGE), "an untouched page reads zero");
                        }
                    }
                    mapped++;
                }
            }
        }
        tally.print();
        System.out.printf("fuzz: GuestMemory sizes: %d of %d calls mapped memory%n", mapped, 2 * sizes.size());
        assertTrue(mapped >= sizes.size() / 2, "too few valid sizes among the random ones: " + mapped);
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), "refused or closed guest memory left " + leaks);
    }

    /** Every x86-64 CPU has at least 36 physical address bits: guest ranges below this KVM must accept. */
    private static final long LOW_PHYSICAL = 1L << 36;

    /**
     * Random map, move and unmap calls, against a model of the slots kept here: what Java can see
     * (alignment, ranges outside the memory, overflow, overlap with a slot the model holds) must be
     * refused with {@link IllegalArgumentException}; a well-formed call below 2^36 with valid
     * flags must succeed; the VM's slots must always be exactly the model's.
     */
    @Test
    void slotsAtRandomAddressesOffsetsAndSizes() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Tally tally = new Tally("Vm.mapMemory/move/unmap");
        ProcessResources before = ProcessResources.take(false);
        int ops = 0, required = 0;
        try (Kvm kvm = Kvm.open()) {
            int validFlags = MemorySlot.LOG_DIRTY_PAGES | (kvm.has(Capability.READONLY_MEM) ? MemorySlot.READONLY : 0);
            for (int round = 0; round < 20 * SCALE; round++) {
                try (GuestMemory small = GuestMemory.anonymous(16 * PAGE);
                     GuestMemory shared = GuestMemory.memfd("fuzz-slots", 256 * PAGE);
                     Vm vm = kvm.createVm()) {
                    GuestMemory[] memories = {small, shared};
                    TreeMap<Long, Long> model = new TreeMap<>(); // guest address -> size
                    for (int i = 0; i < 100; i++, ops++) {
                        List<MemorySlot> slots = vm.memorySlots();
                        int op = rnd.nextInt(10);
                        if (op < 6 || slots.isEmpty()) {
                            GuestMemory m = memories[rnd.nextInt(2)];
                            // A third of the addresses low and page-aligned, where a well-formed call must work.
                            long gpa = rnd.nextInt(3) == 0 ? rnd.nextLong(LOW_PHYSICAL / PAGE / 2) * PAGE : interestingLong(rnd);
                            long offset = rnd.nextInt(3) == 0 ? interestingLong(rnd) : rnd.nextLong(m.size() / PAGE + 1) * PAGE;
                            long size = rnd.nextInt(3) == 0 ? interestingLong(rnd) : (1 + rnd.nextLong(m.size() / PAGE)) * PAGE;
                            int flags = rnd.nextInt(4) == 0 ? rnd.nextInt() : rnd.nextInt(4);
                            Throwable t = refusal("mapMemory", () -> vm.mapMemory(gpa, m, offset, size, flags));
                            tally.add("map " + Tally.of(t));
                            boolean javaCanTell = gpa % PAGE != 0 || offset % PAGE != 0 || size % PAGE != 0 || size <= 0
                                    || offset < 0 || offset > m.size() - size || gpa < 0 || gpa + size < gpa
                                    || overlaps(model, gpa, size);
                            String call = String.format("mapMemory(0x%x, %s, 0x%x, 0x%x, 0x%x)", gpa, m, offset, size, flags);
                            if (javaCanTell && !(t instanceof IllegalArgumentException)) {
                                fail(call + " should be refused by Java, got " + t);
                            }
                            if (!javaCanTell && gpa + size <= LOW_PHYSICAL && (flags & ~validFlags) == 0) {
                                assertNull(t, call + " is well-formed and must succeed");
                                required++;
                            }
                            if (t == null) {
                                model.put(gpa, size);
                            }
                        } else if (op < 8) {
                            MemorySlot s = slots.get(rnd.nextInt(slots.size()));
                            long to = rnd.nextInt(3) == 0 ? rnd.nextLong(LOW_PHYSICAL / PAGE / 2) * PAGE : interestingLong(rnd);
                            Throwable t = refusal("moveMemory", () -> vm.moveMemory(s, to));
                            tally.add("move " + Tally.of(t));
                            model.remove(s.guestAddress());
                            String call = String.format("moveMemory(%s, 0x%x)", s, to);
                            if (to % PAGE != 0 || (to >= 0 && to + s.size() > to && overlaps(model, to, s.size()))) {
                                assertTrue(t instanceof IllegalArgumentException, call + " should be refused by Java, got " + t);
                            } else if (to >= 0 && to <= LOW_PHYSICAL - s.size()) {
                                assertNull(t, call + " is well-formed and must succeed");
                                required++;
                            }
                            model.put(t == null ? to : s.guestAddress(), s.size());
                        } else {
                            MemorySlot s = slots.get(rnd.nextInt(slots.size()));
                            assertNull(refusal("unmapMemory", () -> {
                                vm.unmapMemory(s);
                                return null;
                            }), "unmapping a current slot");
                            tally.add("unmap ok");
                            model.remove(s.guestAddress());
                            // The same slot again, now stale: Java must refuse it.
                            assertTrue(refusal("unmap twice", () -> {
                                vm.unmapMemory(s);
                                return null;
                            }) instanceof IllegalArgumentException);
                        }
                        checkSlots(vm.memorySlots(), model);
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
        System.out.printf("fuzz: Vm slots: %d of %d calls were well-formed and had to succeed%n", required, ops);
        assertTrue(required >= ops / 10, "too few well-formed calls among the random ones: " + required);
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), ops + " slot operations left " + leaks);
    }

    private static boolean overlaps(TreeMap<Long, Long> model, long gpa, long size) {
        for (Map.Entry<Long, Long> e : model.entrySet()) {
            if (gpa < e.getKey() + e.getValue() && e.getKey() < gpa + size) {
                return true;
            }
        }
        return false;
    }

    /** The VM's slots are the model's, sorted by address, with distinct ids. */
    private static void checkSlots(List<MemorySlot> slots, TreeMap<Long, Long> model) {
        Set<Integer> ids = new HashSet<>();
        TreeMap<Long, Long> actual = new TreeMap<>();
        for (MemorySlot s : slots) {
            assertTrue(ids.add(s.id()), "slot id used twice: " + slots);
            actual.put(s.guestAddress(), s.size());
        }
        assertEquals(model, actual, "the VM's slots");
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
                if (!inside && !(t instanceof IllegalArgumentException)) {
                    fail(String.format("%s at 0x%x length %d lies outside every slot: expected IllegalArgumentException, got %s",
                            write ? "write" : "read", gpa, length, t));
                }
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

    /**
     * {@code createVcpu} with any id, against the limits KVM states: an id below 0 or at or above
     * {@code KVM_CAP_MAX_VCPU_ID} must be refused with {@code EINVAL} ("out of range"), a taken id
     * with {@code EEXIST} ("already exists"), any id once the VM holds {@code KVM_CAP_MAX_VCPUS};
     * every other id must give a working vCPU with that id.
     */
    @Test
    void vcpusWithAnyId() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        Tally tally = new Tally("Vm.createVcpu ids");
        ProcessResources before = ProcessResources.take(false);
        int madeOnes = 0, refusedOnes = 0;
        try (Kvm kvm = Kvm.open()) {
            int maxCount = kvm.maxVcpus();
            for (int round = 0; round < 5 * SCALE; round++) {
                try (Vm vm = kvm.createVm()) {
                    int maxId = vm.checkExtension(Capability.MAX_VCPU_ID);
                    int limit = maxId > 0 ? maxId : maxCount; // no MAX_VCPU_ID: ids go up to the vCPU limit
                    Set<Integer> created = new HashSet<>(); // KVM keeps a vCPU (and its id) until the VM goes, closed or not
                    int[] edges = {0, 1, -1, limit - 1, limit, limit + 1, maxCount - 1, maxCount, Integer.MAX_VALUE, Integer.MIN_VALUE,
                        1 << 20, 4095, 4096};
                    for (int i = 0; i < 60; i++) {
                        int id = rnd.nextBoolean() ? edges[rnd.nextInt(edges.length)] : rnd.nextInt(3) == 0 ? rnd.nextInt() : rnd.nextInt(64);
                        Vcpu[] v = new Vcpu[1];
                        Throwable t = refusal("createVcpu(" + id + ")", () -> v[0] = vm.createVcpu(id));
                        tally.add(t == null ? "created" : t instanceof KvmException k ? "KvmException " + k.errnoName() : Tally.of(t));
                        String call = String.format("createVcpu(%d) with %d vCPUs (KVM: ids below %d, at most %d vCPUs)",
                                id, created.size(), limit, maxCount);
                        if (id < 0 || id >= limit) {
                            assertRefused(call, t, "EINVAL", "vCPU id " + id + " is out of range");
                            refusedOnes++;
                        } else if (created.contains(id)) {
                            assertRefused(call, t, "EEXIST", "vCPU id " + id + " already exists in this VM");
                            refusedOnes++;
                        } else if (created.size() >= maxCount) {
                            assertRefused(call, t, "EINVAL", "out of range");
                            refusedOnes++;
                        } else {
                            assertNull(t, call + " must succeed");
                            created.add(id);
                            assertEquals(id, v[0].id());
                            v[0].getRegs();
                            if (rnd.nextInt(4) == 0) {
                                v[0].close();
                            }
                            madeOnes++;
                        }
                    }
                }
            }
        }
        tally.print();
        System.out.printf("fuzz: Vm.createVcpu: %d ids had to give a vCPU, %d had to be refused%n", madeOnes, refusedOnes);
        assertTrue(madeOnes >= 30 * SCALE && refusedOnes >= 30 * SCALE, "both kinds of ids among the random ones");
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        assertTrue(leaks.isEmpty(), "vCPUs left " + leaks);
    }

    private static void assertRefused(String call, Throwable t, String errno, String words) {
        assertTrue(t instanceof KvmException k && k.operation().equals("KVM_CREATE_VCPU") && k.errnoName().equals(errno)
                && k.getMessage().contains(words), call + ": expected KVM_CREATE_VCPU " + errno + " (\"" + words + "\"), got " + t);
    }

    /**
     * {@code GuestMemory} accessors at random offsets and lengths: a call whose range lies in the
     * memory must succeed and do what it says (the bytes written read back, a fill or discard
     * shows, a copy matches its source); every other must be refused with
     * {@link IndexOutOfBoundsException}, except a discard of a range that is not page-aligned,
     * refused with {@link IllegalArgumentException} before its range is looked at.
     */
    @Test
    void guestMemoryAccessorsAtAnyOffset() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        Tally tally = new Tally("GuestMemory accessors");
        long size = 8 * PAGE;
        int inRange = 0;
        try (GuestMemory shared = GuestMemory.memfd("fuzz-access", size);
             GuestMemory anonymous = GuestMemory.anonymous(size);
             GuestMemory other = GuestMemory.anonymous(2 * PAGE)) {
            byte[] pattern = new byte[(int) other.size()];
            rnd.nextBytes(pattern);
            other.write(0, pattern);
            for (int i = 0; i < 20_000 * SCALE; i++) {
                int op = rnd.nextInt(9);
                boolean pages = op == 5 && rnd.nextBoolean(); // half the discards page-aligned, so that some are valid
                long offset = rnd.nextInt(3) == 0 ? interestingLong(rnd) : pages ? rnd.nextLong(-1, 10) * PAGE : rnd.nextLong(10 * PAGE) - PAGE;
                long length = rnd.nextInt(4) == 0 ? interestingLong(rnd) : pages ? rnd.nextLong(4) * PAGE : rnd.nextLong(3 * PAGE);
                long source = rnd.nextInt(4) == 0 ? interestingLong(rnd) : rnd.nextLong(3 * PAGE);
                int n = (int) Math.min(Math.max(length, 0), 3 * PAGE);
                int sliceLength = (int) Math.min(length, Integer.MAX_VALUE);
                byte[] data = new byte[n];
                rnd.nextBytes(data);
                byte value = (byte) (1 + rnd.nextInt(255));
                GuestMemory m = rnd.nextBoolean() ? shared : anonymous;
                long width = switch (op) {
                    case 0 -> 8;
                    case 1 -> 4;
                    case 4 -> sliceLength;
                    case 7, 8 -> n;
                    default -> length;
                };
                boolean inside = offset >= 0 && width >= 0 && offset <= size - width
                        && (op != 6 || (source >= 0 && length >= 0 && source <= other.size() - length));
                boolean misaligned = op == 5 && (offset % PAGE != 0 || length % PAGE != 0);
                Throwable t = refusal("accessor " + op, () -> {
                    switch (op) {
                        case 0 -> m.getLong(offset);
                        case 1 -> m.putInt(offset, 0x5a5a5a5a);
                        case 2 -> m.fill(offset, length, value);
                        case 3 -> m.isZero(offset, length);
                        case 4 -> m.slice(offset, sliceLength);
                        case 5 -> m.discard(offset, length);
                        case 6 -> m.copyFrom(other, source, offset, length);
                        case 7 -> m.write(offset, data);
                        default -> m.read(offset, new byte[n], 0, n);
                    }
                    return null;
                });
                String call = String.format("accessor %d at 0x%x length 0x%x (source 0x%x) of %s", op, offset, length, source, m);
                tally.add(op + ":" + Tally.of(t));
                if (misaligned) {
                    assertTrue(t instanceof IllegalArgumentException, call + ": a misaligned discard must be refused, got " + t);
                    continue;
                }
                if (!inside) {
                    assertTrue(t instanceof IndexOutOfBoundsException, call + " is out of range: expected IndexOutOfBoundsException, got " + t);
                    continue;
                }
                assertNull(t, call + " lies inside the memory and must succeed");
                inRange++;
                switch (op) {
                    case 1 -> assertEquals(0x5a5a5a5a, m.getInt(offset), call);
                    case 2 -> assertTrue(length == 0 || (m.getByte(offset) == value && m.getByte(offset + length - 1) == value), call);
                    case 5 -> assertTrue(m.isZero(offset, length), call + ": a discarded range reads zero");
                    case 6 -> assertArrayEquals(Arrays.copyOfRange(pattern, (int) source, (int) (source + length)),
                            m.read(offset, (int) length), call);
                    case 7 -> assertArrayEquals(data, m.read(offset, n), call);
                    case 4 -> assertEquals(sliceLength, m.slice(offset, sliceLength).capacity(), call);
                    default -> { }
                }
            }
        }
        tally.print();
        System.out.printf("fuzz: GuestMemory accessors: %d of %d calls were in range and had to work%n", inRange, 20_000 * SCALE);
        assertTrue(inRange >= 4_000 * SCALE, "too few in-range calls among the random ones: " + inRange);
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
