package dev.kvmctl.memory;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Divides a region of {@code size} bytes shared by several VMs into blocks, each idle or in use by
 * one owner (an int id, typically a VM index). Offsets and sizes are {@code long}, so regions may be
 * many GiB.
 *
 * <p>The method (after US 11281388 B2): a request for N bytes is rounded up to the alignment; an idle
 * block of exactly that size is used if there is one, otherwise the smallest larger idle block (the
 * lowest-addressed one among equals, so results are deterministic) is split, its first part used and
 * the rest left as a new idle block. Freeing a block merges it with idle neighbours on both sides, so
 * there are never two adjacent idle blocks.
 *
 * <p>Expected failures are values, not exceptions: {@link #allocate} answers an {@link AllocationResult},
 * {@link #free} and {@link #transfer} a {@link BlockResult}, and a refusal never changes anything.
 * Only programming errors (a bad constructor argument, a negative owner id) throw
 * {@link IllegalArgumentException}.
 *
 * <p>Cost: allocate, free and transfer take expected O(log n) time in the number of blocks n, with no
 * scan of the region, and allocate no memory apart from their small result object (and the
 * occasional doubling of an internal array). Idle blocks smaller than 4096 alignment units (256 KiB
 * at the default alignment) sit in exact-size bins, each a treap ordered by offset that keeps its
 * lowest block at hand, with a bitmap of the non-empty bins: best fit for them is a few bit
 * operations. Larger idle blocks sit in one treap ordered by (size, offset): best fit is one
 * descent. Each idle block knows its treap parent, so taking a neighbour out when merging needs no
 * search. An address hash finds the block at an offset in expected O(1), and
 * address-order links give its neighbours. {@link #freeAll} costs O(k log n) for an owner's k blocks,
 * found through a per-owner list. Treap priorities come from a per-instance random seed, so no
 * sequence of requests can unbalance the treap on purpose; the answers never depend on the seed.
 * {@code docs/allocator.md} has the design and measurements.
 *
 * <p>Thread safety: every public method holds one lock for its whole duration, so the allocator can
 * be shared by VM threads directly and {@link #stats()} is a consistent snapshot. Uncontended, the
 * lock costs two atomic instructions per call; if many threads contend for one region, give each
 * group its own allocator over its own part of the region.
 *
 * <pre>{@code
 * BlockAllocator alloc = new BlockAllocator(64L << 20);          // 64 MiB, 64-byte alignment
 * int vmA = 0, vmB = 1;
 * if (alloc.allocate(vmA, 1000) instanceof AllocationResult.Allocated a) {
 *     // a.offset() == 0, a.size() == 1024; write the payload at a.offset() ...
 *     alloc.transfer(vmA, a.offset(), vmB);                      // ... and hand it to VM B
 *     BlockResult again = alloc.free(vmA, a.offset());           // Refused: WRONG_OWNER
 *     alloc.free(vmB, a.offset());                               // Done
 * }
 * BlockAllocator.Reclaimed r = alloc.freeAll(vmA);               // VM A crashed: take back its blocks
 * System.out.println(alloc.stats());
 * }</pre>
 *
 * <p>Limits: at most {@link #MAX_BLOCKS} blocks (idle and in use together) at once; owner ids must be
 * non-negative and are expected to be few (their bookkeeping is never discarded).
 *
 * <p>Memory: every block is at least one alignment unit, so there are never more than
 * {@link #maxBlocks()} = size / alignment of them, and the internal arrays never grow past what that
 * many blocks need: at most about {@value #FOOTPRINT_PER_BLOCK} bytes of heap per alignment unit plus
 * {@value #FOOTPRINT_FIXED} bytes ({@link #footprintBytes()} says how much now), whatever the
 * sequence of calls. Whoever lets untrusted code allocate picks the alignment as a granule that
 * bounds this ({@link #granuleFor}): the heap then depends on the region's size, not on the
 * callers' behaviour.
 */
public final class BlockAllocator {
    /** The alignment used by {@link #BlockAllocator(long)}: one x86 cache line. */
    public static final long DEFAULT_ALIGNMENT = 64;

    // Blocks live in one long[] (STRIDE longs each, indexed by a recycled int id) rather than in
    // objects: no per-block headers or pointers to chase, no garbage, and a block's key and links
    // usually share a cache line, which is what bounds speed once there are a million blocks.
    private static final int OFF = 0;
    private static final int LEN = 1;
    /** Address-order neighbours: previous id in the high half, next id in the low half. */
    private static final int ADJ = 2;
    /** Idle: treap children (left high, right low). In use: the owner's list (previous high, next low). */
    private static final int LINK = 3;
    /**
     * In use: the owner's slot (0 or more). Idle: {@code -2 - parent}, the block's treap parent
     * encoded as a negative number (-1 for the root), so a removal needs no descent from the root.
     */
    private static final int OWNER = 4;
    private static final int STRIDE = 5;

    /** The most blocks one allocator can hold at once; a split beyond it throws IllegalStateException. */
    public static final int MAX_BLOCKS = (Integer.MAX_VALUE - 16) / STRIDE;

    /**
     * Heap bytes per alignment unit that {@link #footprintBytes()} never exceeds (beyond
     * {@link #FOOTPRINT_FIXED}): 40 for the block array, under 52 for the address hash (kept at most
     * 5/8 full, so under 3.2 slots of 16 bytes per block), 4 for recycled ids.
     */
    public static final long FOOTPRINT_PER_BLOCK = 96;
    /** Fixed heap bytes besides {@link #FOOTPRINT_PER_BLOCK}: the size bins and minimum array sizes (owners not counted). */
    public static final long FOOTPRINT_FIXED = 48 * 1024;

    private static final int NIL = -1;
    /** Sizes below this many alignment units get an exact-size bin (4096 x 64 bytes = 256 KiB). */
    private static final int MAX_BINS = 4096;
    private static final long LOW = 0xFFFF_FFFFL;
    private static final long EMPTY = -1;
    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;

    private final Object lock = new Object();
    private final long size;
    private final long alignment;
    private final long alignMask;
    private final int alignShift;
    private final int prioritySeed;
    /** The most block ids ever needed: one per alignment unit (each block is at least one), capped at MAX_BLOCKS. */
    private final int maxIds;

    private long[] blocks;
    private int idLimit;
    private int[] freeIds = new int[16];
    private int freeIdCount;
    /** The block at offset 0: never merged away (it has no left neighbour), so it heads the address list. */
    private final int head;
    /**
     * Idle blocks of k alignment units (0 < k < bins) sit in bin k, a treap ordered by offset; larger
     * ones sit in tree 0, ordered by (size, offset). roots[k] is each tree's root.
     */
    private final int bins;
    private final int[] roots;
    /** The lowest-addressed block of each non-empty bin: the answer for any request that bin fits. */
    private final int[] mins;
    /** Bit k set when bin k is non-empty, plus a summary bit per word: best fit in O(1) for small sizes. */
    private final long[] binBits;
    private long binSummary;
    private int usedCount;
    private int idleCount;
    private long bytesInUse;

    /** Open addressing, linear probing: key at 2i (EMPTY when free), block id at 2i+1. */
    private long[] table;
    private int tableShift;
    private int tableCount;

    /** Owner id to slot, open addressing; -1 marks a free entry (owner ids are non-negative). */
    private int[] ownerKeys;
    private int[] ownerKeySlots;
    private int[] slotOwner = new int[4];
    private long[] slotBytes = new long[4];
    private int[] slotBlocks = new int[4];
    private int[] slotHead = new int[4];
    private int slotCount;
    private int lastOwner = -1;
    private int lastSlot = -1;

    /**
     * A region of {@code size} bytes with the {@link #DEFAULT_ALIGNMENT default alignment}.
     *
     * @param size the region's size: positive, a multiple of 64
     * @throws IllegalArgumentException if it is not
     */
    public BlockAllocator(long size) {
        this(size, DEFAULT_ALIGNMENT);
    }

    /**
     * A region of {@code size} bytes whose block offsets and sizes are multiples of {@code alignment}.
     *
     * @param size the region's size: positive, a multiple of {@code alignment}
     * @param alignment a power of two; every request is rounded up to a multiple of it
     * @throws IllegalArgumentException if either is not
     */
    public BlockAllocator(long size, long alignment) {
        this(size, alignment, MAX_BINS);
    }

    /** As {@link #BlockAllocator(long, long)}, with fewer size bins: lets tests push blocks into tree 0. */
    BlockAllocator(long size, long alignment, int maxBins) {
        if (maxBins < 1 || maxBins > MAX_BINS) {
            throw new IllegalArgumentException("maxBins must be in [1, " + MAX_BINS + "], got " + maxBins);
        }
        if (alignment <= 0 || Long.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two, got " + alignment);
        }
        if (size <= 0 || (size & (alignment - 1)) != 0) {
            throw new IllegalArgumentException(
                    "region size must be a positive multiple of the alignment " + alignment + ", got " + size);
        }
        this.size = size;
        this.alignment = alignment;
        this.alignMask = alignment - 1;
        this.alignShift = Long.numberOfTrailingZeros(alignment);
        this.prioritySeed = new SplittableRandom().nextInt();
        this.maxIds = (int) Math.min(MAX_BLOCKS, size >>> alignShift);
        this.blocks = new long[16 * STRIDE];
        this.table = new long[2 * 16];
        Arrays.fill(table, EMPTY);
        this.tableShift = 64 - 4;
        this.ownerKeys = new int[8];
        Arrays.fill(ownerKeys, -1);
        this.ownerKeySlots = new int[8];
        // One bin per small size, at most MAX_BINS of them, none beyond the region's own size.
        this.bins = (int) Math.min(maxBins, (size >>> alignShift) + 1);
        this.roots = new int[bins];
        this.mins = new int[bins];
        Arrays.fill(roots, NIL);
        Arrays.fill(mins, NIL);
        this.binBits = new long[(bins + 63) >>> 6];

        head = newId();
        set(head, OFF, 0);
        set(head, LEN, size);
        setAdj(head, NIL, NIL);
        hashPut(0, head);
        treapInsert(head);
        idleCount = 1;
    }

    /** {@return the region's size in bytes, as given to the constructor} */
    public long size() {
        return size;
    }

    /** {@return the alignment of every block's offset and size in bytes: a power of two} */
    public long alignment() {
        return alignment;
    }

    /**
     * {@return the most blocks (idle and in use) this allocator can ever hold: one per alignment
     * unit, since every block is at least one unit, and at most {@link #MAX_BLOCKS}}
     */
    public long maxBlocks() {
        return maxIds;
    }

    /**
     * {@return the heap bytes the allocator's arrays take now (block table, address hash, recycled
     * ids, size bins, owner tables)} Never more than {@link #FOOTPRINT_PER_BLOCK} &times;
     * {@link #maxBlocks()} + {@link #FOOTPRINT_FIXED} + a few bytes per owner.
     */
    public long footprintBytes() {
        synchronized (lock) {
            return 8L * blocks.length + 8L * table.length + 4L * freeIds.length + 4L * roots.length
                    + 4L * mins.length + 8L * binBits.length + 4L * ownerKeys.length + 4L * ownerKeySlots.length
                    + 4L * slotOwner.length + 8L * slotBytes.length + 4L * slotBlocks.length + 4L * slotHead.length;
        }
    }

    /**
     * The smallest alignment (a power of two, at least {@link #DEFAULT_ALIGNMENT}) that divides a
     * region of {@code size} bytes into at most {@code maxBlocks} units: used as a granule, it caps
     * the number of blocks, and so the heap, whatever the callers do.
     *
     * @param size the region's size; positive
     * @param maxBlocks the most blocks to allow; positive
     * @return the granule; a region of {@code size} bytes must also be a multiple of it to be used with it
     * @throws IllegalArgumentException if either is not positive, or no power of two up to 2^62 is enough
     */
    public static long granuleFor(long size, long maxBlocks) {
        if (size <= 0 || maxBlocks <= 0) {
            throw new IllegalArgumentException("size and maxBlocks must be positive, got " + size + " and " + maxBlocks);
        }
        long granule = DEFAULT_ALIGNMENT;
        // ceil(size / granule) > maxBlocks, written so that nothing overflows.
        while ((size - 1) / granule >= maxBlocks) {
            if (granule == 1L << 62) {
                throw new IllegalArgumentException("no granule splits " + size + " bytes into at most " + maxBlocks + " blocks");
            }
            granule <<= 1;
        }
        return granule;
    }

    /**
     * Gives {@code owner} a block of at least {@code bytes} bytes: an idle block of exactly the
     * rounded size if there is one, otherwise the front of the smallest larger one (lowest address
     * among equals).
     *
     * @param owner who will hold the block; non-negative
     * @param bytes how many bytes will be written; rounded up to the alignment
     * @return {@link AllocationResult.Allocated} with the block, or {@link AllocationResult.Refused}
     *     (nothing changed) for a size of 0 or less, one larger than the region, or one no idle block can hold
     * @throws IllegalArgumentException if {@code owner} is negative
     */
    public AllocationResult allocate(int owner, long bytes) {
        requireOwner(owner);
        synchronized (lock) {
            if (bytes <= 0) {
                return new AllocationResult.Refused(AllocationResult.Reason.INVALID_SIZE, bytes, largestIdle());
            }
            if (bytes > size) {
                return new AllocationResult.Refused(AllocationResult.Reason.LARGER_THAN_REGION, bytes, largestIdle());
            }
            // No overflow: bytes <= size, and size is itself a multiple of the alignment.
            long n = (bytes + alignMask) & ~alignMask;

            // Best fit is the smallest (size, offset) at or above (n, 0); an exact fit is simply the
            // smallest possible answer. Small sizes: the first non-empty bin from n's own, and its
            // lowest block. Otherwise the ceiling in tree 0.
            int best = NIL;
            long units = n >>> alignShift;
            if (units < bins) {
                int k = nextBin((int) units);
                if (k > 0) {
                    best = mins[k];
                }
            }
            if (best == NIL) {
                // Branch-free: which way a tree descent goes is a coin toss for the CPU's
                // predictor, and mispredictions cost more than this arithmetic.
                long[] bl = blocks;
                for (int t = roots[0]; t != NIL; ) {
                    int i = t * STRIDE;
                    long tooSmall = (bl[i + LEN] - n) >>> 63;
                    best ^= (best ^ t) & ((int) tooSmall - 1);
                    t = (int) (bl[i + LINK] >> ((tooSmall ^ 1) << 5));
                }
            }
            if (best == NIL) {
                return new AllocationResult.Refused(
                        AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, bytes, largestIdle());
            }
            long found = get(best, LEN);
            // Everything that can fail (id and slot table growth) happens before the first change.
            int rest = found > n ? newId() : NIL;
            int slot = ownerSlot(owner);

            treapRemove(best);
            long offset = get(best, OFF);
            if (rest != NIL) {
                int after = nextOf(best);
                set(rest, OFF, offset + n);
                set(rest, LEN, found - n);
                setAdj(rest, best, after);
                if (after != NIL) {
                    setPrev(after, rest);
                }
                setNext(best, rest);
                set(best, LEN, n);
                hashPut(offset + n, rest);
                treapInsert(rest);
            } else {
                idleCount--;
            }
            set(best, OWNER, slot);
            ownerPush(slot, best);
            slotBytes[slot] += n;
            slotBlocks[slot]++;
            bytesInUse += n;
            usedCount++;
            return new AllocationResult.Allocated(offset, n);
        }
    }

    /**
     * Makes the block at {@code offset} idle and merges it with idle neighbours on both sides.
     *
     * @param owner who holds the block; non-negative
     * @param offset where the block starts
     * @return {@link BlockResult.Done} with the freed block's size, or {@link BlockResult.Refused}
     *     (nothing changed) if no block starts there, it is already idle, or another owner holds it
     * @throws IllegalArgumentException if {@code owner} is negative
     */
    public BlockResult free(int owner, long offset) {
        requireOwner(owner);
        synchronized (lock) {
            int b = blockAt(offset);
            BlockResult.Refused no = refusal(b, owner, offset);
            if (no != null) {
                return no;
            }
            long n = get(b, LEN);
            int slot = (int) get(b, OWNER);
            ownerUnlink(slot, b);
            slotBytes[slot] -= n;
            slotBlocks[slot]--;
            bytesInUse -= n;
            usedCount--;
            release(b);
            return new BlockResult.Done(offset, n);
        }
    }

    /**
     * Hands the block at {@code offset} from {@code fromOwner} to {@code toOwner}, unchanged in place
     * and size: VM A writes a block, then gives it to VM B, which frees it when done.
     *
     * @param fromOwner who holds the block now; non-negative
     * @param offset where the block starts
     * @param toOwner who will hold it; non-negative; may equal {@code fromOwner}
     * @return {@link BlockResult.Done}, or {@link BlockResult.Refused} (nothing changed) if no block
     *     starts there, it is idle, or it is not {@code fromOwner}'s
     * @throws IllegalArgumentException if an owner is negative
     */
    public BlockResult transfer(int fromOwner, long offset, int toOwner) {
        requireOwner(fromOwner);
        requireOwner(toOwner);
        synchronized (lock) {
            int b = blockAt(offset);
            BlockResult.Refused no = refusal(b, fromOwner, offset);
            if (no != null) {
                return no;
            }
            long n = get(b, LEN);
            int from = (int) get(b, OWNER);
            int to = ownerSlot(toOwner);
            if (to != from) {
                ownerUnlink(from, b);
                slotBytes[from] -= n;
                slotBlocks[from]--;
                set(b, OWNER, to);
                ownerPush(to, b);
                slotBytes[to] += n;
                slotBlocks[to]++;
            }
            return new BlockResult.Done(offset, n);
        }
    }

    /**
     * How many blocks and bytes {@link #freeAll(int)} took back.
     *
     * @param blocks the number of blocks freed
     * @param bytes their total size
     */
    public record Reclaimed(int blocks, long bytes) {}

    /**
     * Frees every block {@code owner} holds, as when its VM faulted or closed. Costs O(k log n) for
     * its k blocks, not a scan of the region.
     *
     * @param owner whose blocks to free; non-negative; an owner with no blocks is fine
     * @return how many blocks and bytes were freed
     * @throws IllegalArgumentException if {@code owner} is negative
     */
    public Reclaimed freeAll(int owner) {
        requireOwner(owner);
        synchronized (lock) {
            int slot = findOwnerSlot(owner);
            if (slot < 0 || slotHead[slot] == NIL) {
                return new Reclaimed(0, 0);
            }
            int count = slotBlocks[slot];
            long bytes = slotBytes[slot];
            // Merging only ever recycles idle neighbours, never a block still on this list, so the
            // saved successor stays valid across release().
            for (int b = slotHead[slot]; b != NIL; ) {
                int following = rightOf(b);
                release(b);
                b = following;
            }
            slotHead[slot] = NIL;
            slotBytes[slot] = 0;
            slotBlocks[slot] = 0;
            bytesInUse -= bytes;
            usedCount -= count;
            return new Reclaimed(count, bytes);
        }
    }

    /**
     * {@return a consistent snapshot of the counts, taken under the allocator's lock} Costs
     * O(log n) plus the number of owners.
     */
    public AllocatorStats stats() {
        synchronized (lock) {
            Map<Integer, Long> byOwner = new HashMap<>();
            for (int s = 0; s < slotCount; s++) {
                if (slotBlocks[s] > 0) {
                    byOwner.put(slotOwner[s], slotBytes[s]);
                }
            }
            long idleBytes = size - bytesInUse;
            long largest = largestIdle();
            double fragmentation = idleBytes == 0 ? 0.0 : 1.0 - (double) largest / idleBytes;
            return new AllocatorStats(
                    size, usedCount, idleCount, bytesInUse, idleBytes, largest, fragmentation, byOwner);
        }
    }

    /**
     * Verifies every internal invariant in O(n), for tests and debugging: the blocks tile
     * [0, size) with no gap or overlap, all aligned; no two idle blocks are adjacent; the idle index
     * holds exactly the idle blocks, in (size, offset) order; the address index finds every block;
     * per-owner lists and all counters agree with the blocks.
     *
     * @throws IllegalStateException describing the first violation found
     */
    public void checkInvariants() {
        synchronized (lock) {
            boolean[] live = new boolean[idLimit];
            long[] perSlotBytes = new long[slotCount];
            int[] perSlotBlocks = new int[slotCount];
            int blocksSeen = 0;
            int idleSeen = 0;
            int usedSeen = 0;
            long usedBytes = 0;
            long pos = 0;
            int previous = NIL;
            check(head == 0 && get(head, OFF) == 0, "the first block is not at offset 0");
            for (int b = head; b != NIL; b = nextOf(b)) {
                check(b >= 0 && b < idLimit && !live[b], "address list reaches bad or repeated id " + b);
                live[b] = true;
                blocksSeen++;
                long off = get(b, OFF);
                long len = get(b, LEN);
                check(prevOf(b) == previous, "block at " + off + " has a wrong previous link");
                check(off == pos, "gap or overlap at " + pos + ": next block starts at " + off);
                check(len > 0 && len <= size - pos, "block at " + off + " has bad length " + len);
                check((off & alignMask) == 0 && (len & alignMask) == 0, "block at " + off + " is misaligned");
                check(hashFind(off) == b, "address index does not find the block at " + off);
                int slot = (int) get(b, OWNER);
                if (slot < 0) {
                    idleSeen++;
                    check(previous == NIL || !isIdle(previous), "adjacent idle blocks at " + off);
                } else {
                    check(slot >= 0 && slot < slotCount, "block at " + off + " has bad owner slot " + slot);
                    usedSeen++;
                    usedBytes += len;
                    perSlotBytes[slot] += len;
                    perSlotBlocks[slot]++;
                }
                pos += len;
                previous = b;
            }
            check(pos == size, "blocks cover " + pos + " bytes of " + size);
            check(idleSeen == idleCount, "idle count " + idleCount + " but " + idleSeen + " idle blocks");
            check(usedSeen == usedCount, "in-use count " + usedCount + " but " + usedSeen + " blocks in use");
            check(usedBytes == bytesInUse, "bytes in use " + bytesInUse + " but blocks hold " + usedBytes);
            check(tableCount == blocksSeen, "address index has " + tableCount + " entries for " + blocksSeen);

            boolean[] recycled = new boolean[idLimit];
            for (int i = 0; i < freeIdCount; i++) {
                int id = freeIds[i];
                check(id >= 0 && id < idLimit && !live[id] && !recycled[id], "bad recycled id " + id);
                recycled[id] = true;
            }
            check(freeIdCount + blocksSeen == idLimit, "ids leaked: " + (idLimit - freeIdCount - blocksSeen));

            checkTreap(live);
            checkOwners(perSlotBytes, perSlotBlocks);
        }
    }

    /** Region size, counts and bytes in use, for logs. */
    @Override
    public String toString() {
        synchronized (lock) {
            return "BlockAllocator[size=" + size + ", alignment=" + alignment + ", inUse=" + usedCount
                    + " blocks/" + bytesInUse + " bytes, idle=" + idleCount + " blocks/" + (size - bytesInUse) + " bytes]";
        }
    }

    // ---- freeing ----

    /** The refusal for freeing or transferring block {@code b} as {@code owner}, or null if allowed. */
    private BlockResult.Refused refusal(int b, int owner, long offset) {
        if (b == NIL) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_A_BLOCK_START, offset, -1);
        }
        int slot = (int) get(b, OWNER);
        if (slot < 0) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, offset, -1);
        }
        if (slotOwner[slot] != owner) {
            return new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, offset, slotOwner[slot]);
        }
        return null;
    }

    /** Turns in-use block {@code b} (already off its owner's list) idle, merging with idle neighbours. */
    private void release(int b) {
        int after = nextOf(b);
        if (after != NIL && isIdle(after)) {
            // Leave the index before the key (the length) changes.
            treapRemove(after);
            hashRemove(get(after, OFF));
            set(b, LEN, get(b, LEN) + get(after, LEN));
            unlinkAddress(after);
            freeId(after);
            idleCount--;
        }
        int before = prevOf(b);
        if (before != NIL && isIdle(before)) {
            treapRemove(before);
            hashRemove(get(b, OFF));
            set(before, LEN, get(before, LEN) + get(b, LEN));
            unlinkAddress(b);
            freeId(b);
            idleCount--;
            b = before;
        }
        treapInsert(b); // also marks it idle: its OWNER field now holds its treap parent
        idleCount++;
    }

    private void unlinkAddress(int b) {
        int before = prevOf(b);
        int after = nextOf(b);
        setNext(before, after); // b is never the head: the head cannot be merged into a left neighbour
        if (after != NIL) {
            setPrev(after, before);
        }
    }

    private int blockAt(long offset) {
        if (offset < 0 || offset >= size || (offset & alignMask) != 0) {
            return NIL;
        }
        return hashFind(offset);
    }

    private long largestIdle() {
        int t = roots[0];
        if (t != NIL) {
            for (int r = rightOf(t); r != NIL; r = rightOf(t)) {
                t = r;
            }
            return get(t, LEN);
        }
        if (binSummary == 0) {
            return 0;
        }
        int w = 63 - Long.numberOfLeadingZeros(binSummary);
        return ((long) (w << 6) + 63 - Long.numberOfLeadingZeros(binBits[w])) << alignShift;
    }

    /** The first non-empty bin at or above {@code k} (k > 0), or -1. */
    private int nextBin(int k) {
        int w = k >>> 6;
        long bits = binBits[w] & (-1L << k); // shifts take the count mod 64: k's bit within the word
        if (bits != 0) {
            return (w << 6) + Long.numberOfTrailingZeros(bits);
        }
        // Java shifts by (w + 1) mod 64, so the last word needs saying explicitly.
        long words = w == 63 ? 0 : binSummary & (-1L << (w + 1));
        if (words == 0) {
            return -1;
        }
        w = Long.numberOfTrailingZeros(words);
        return (w << 6) + Long.numberOfTrailingZeros(binBits[w]);
    }

    private int treeOf(long len) {
        long units = len >>> alignShift;
        return units < bins ? (int) units : 0;
    }

    private static void requireOwner(int owner) {
        if (owner < 0) {
            throw new IllegalArgumentException("owner ids must be non-negative, got " + owner);
        }
    }

    // ---- block storage ----

    private long get(int id, int field) {
        return blocks[id * STRIDE + field];
    }

    private void set(int id, int field, long value) {
        blocks[id * STRIDE + field] = value;
    }

    private int prevOf(int id) {
        return high(id, ADJ);
    }

    private int nextOf(int id) {
        return low(id, ADJ);
    }

    private void setAdj(int id, int prev, int next) {
        setPair(id, ADJ, prev, next);
    }

    private void setPrev(int id, int prev) {
        setHigh(id, ADJ, prev);
    }

    private void setNext(int id, int next) {
        setLow(id, ADJ, next);
    }

    private boolean isIdle(int id) {
        return blocks[id * STRIDE + OWNER] < 0;
    }

    private int parentOf(int id) {
        return (int) (-2 - blocks[id * STRIDE + OWNER]);
    }

    private void setParent(int id, int parent) {
        blocks[id * STRIDE + OWNER] = -2L - parent;
    }

    private int leftOf(int id) {
        return high(id, LINK);
    }

    private int rightOf(int id) {
        return low(id, LINK);
    }

    private void setLinks(int id, int left, int right) {
        setPair(id, LINK, left, right);
    }

    private void setLeft(int id, int left) {
        setHigh(id, LINK, left);
    }

    private void setRight(int id, int right) {
        setLow(id, LINK, right);
    }

    // ADJ and LINK each pack two ids into one long: the first of the pair in the high half.

    private int high(int id, int field) {
        return (int) (blocks[id * STRIDE + field] >> 32);
    }

    private int low(int id, int field) {
        return (int) blocks[id * STRIDE + field];
    }

    private void setPair(int id, int field, int high, int low) {
        blocks[id * STRIDE + field] = ((long) high << 32) | (low & LOW);
    }

    private void setHigh(int id, int field, int high) {
        int i = id * STRIDE + field;
        blocks[i] = ((long) high << 32) | (blocks[i] & LOW);
    }

    private void setLow(int id, int field, int low) {
        int i = id * STRIDE + field;
        blocks[i] = (blocks[i] & ~LOW) | (low & LOW);
    }

    private int newId() {
        if (freeIdCount > 0) {
            return freeIds[--freeIdCount];
        }
        if (idLimit >= maxIds) {
            throw new IllegalStateException("a BlockAllocator holds at most " + maxIds + " blocks");
        }
        if ((idLimit + 1) * STRIDE > blocks.length) {
            // Never beyond maxIds: the block count, and so the heap, is bounded by the region's size.
            int capacity = (int) Math.min(maxIds, 2L * idLimit);
            blocks = Arrays.copyOf(blocks, capacity * STRIDE);
        }
        return idLimit++;
    }

    private void freeId(int id) {
        if (freeIdCount == freeIds.length) {
            // Recycled ids plus live blocks never exceed maxIds, so neither does this array.
            freeIds = Arrays.copyOf(freeIds, (int) Math.min(maxIds, 2L * freeIds.length));
        }
        freeIds[freeIdCount++] = id;
    }

    // ---- idle index: a treap keyed by (length, offset), nodes are the blocks themselves ----

    // Priorities are a keyed mix of the id: random with respect to keys, yet stored nowhere.
    private int priority(int id) {
        int h = (id ^ prioritySeed) * 0x9E37_79B9;
        h ^= h >>> 16;
        h *= 0x85EB_CA6B;
        h ^= h >>> 13;
        return h;
    }

    private boolean keyLess(long len, long off, int t) {
        long tl = get(t, LEN);
        return len < tl || (len == tl && off < get(t, OFF));
    }

    private void attach(int tree, int parent, boolean left, int child) {
        if (parent == NIL) {
            roots[tree] = child;
        } else if (left) {
            setLeft(parent, child);
        } else {
            setRight(parent, child);
        }
        if (child != NIL) {
            setParent(child, parent);
        }
    }

    private void treapInsert(int x) {
        long len = get(x, LEN);
        long off = get(x, OFF);
        int tree = treeOf(len);
        if (tree != 0) {
            int min = mins[tree];
            if (min == NIL) {
                mins[tree] = x;
                binBits[tree >>> 6] |= 1L << tree;
                binSummary |= 1L << (tree >>> 6);
            } else if (off < get(min, OFF)) {
                mins[tree] = x;
            }
        }
        int px = priority(x);
        int parent = NIL;
        boolean left = false;
        int t = roots[tree];
        long[] bl = blocks;
        while (t != NIL && priority(t) > px) {
            parent = t;
            // (len, off) < key(t), as 0 or 1 without branches (all values are non-negative).
            int i = t * STRIDE;
            long tl = bl[i + LEN];
            long less = ((len - tl) >>> 63) | ((((tl - len) >>> 63) ^ 1) & ((off - bl[i + OFF]) >>> 63));
            left = less != 0;
            t = (int) (bl[i + LINK] >> (less << 5));
        }
        // Split the subtree at t around x: smaller keys become x's left subtree, larger its right.
        int lHead = NIL;
        int lTail = NIL;
        int rHead = NIL;
        int rTail = NIL;
        while (t != NIL) {
            if (keyLess(len, off, t)) {
                if (rTail == NIL) {
                    rHead = t;
                } else {
                    setLeft(rTail, t);
                    setParent(t, rTail);
                }
                rTail = t;
                t = leftOf(t);
            } else {
                if (lTail == NIL) {
                    lHead = t;
                } else {
                    setRight(lTail, t);
                    setParent(t, lTail);
                }
                lTail = t;
                t = rightOf(t);
            }
        }
        if (lTail != NIL) {
            setRight(lTail, NIL);
        }
        if (rTail != NIL) {
            setLeft(rTail, NIL);
        }
        setLinks(x, lHead, rHead);
        if (lHead != NIL) {
            setParent(lHead, x);
        }
        if (rHead != NIL) {
            setParent(rHead, x);
        }
        attach(tree, parent, left, x);
    }

    private void treapRemove(int x) {
        int tree = treeOf(get(x, LEN));
        int parent = parentOf(x);
        if (tree != 0 && mins[tree] == x) {
            // x is leftmost, so its successor is the leftmost of its right subtree, else its parent.
            int next = rightOf(x);
            if (next == NIL) {
                next = parent;
            } else {
                for (int l = leftOf(next); l != NIL; l = leftOf(next)) {
                    next = l;
                }
            }
            mins[tree] = next;
            if (next == NIL) {
                binBits[tree >>> 6] &= ~(1L << tree);
                if (binBits[tree >>> 6] == 0) {
                    binSummary &= ~(1L << (tree >>> 6));
                }
            }
        }
        // Replace x by the merge of its subtrees, hung where x hung.
        boolean left = parent != NIL && leftOf(parent) == x;
        int a = leftOf(x);
        int b = rightOf(x);
        while (a != NIL && b != NIL) {
            if (priority(a) > priority(b)) {
                attach(tree, parent, left, a);
                parent = a;
                left = false;
                a = rightOf(a);
            } else {
                attach(tree, parent, left, b);
                parent = b;
                left = true;
                b = leftOf(b);
            }
        }
        attach(tree, parent, left, a != NIL ? a : b);
    }

    // ---- address index: offset -> block id ----

    private int hashSlot(long offset) {
        return (int) (((offset >>> alignShift) * GOLDEN) >>> tableShift);
    }

    private int hashFind(long offset) {
        long[] t = table;
        int mask = (t.length >> 1) - 1;
        for (int i = hashSlot(offset); ; i = (i + 1) & mask) {
            long k = t[2 * i];
            if (k == offset) {
                return (int) t[2 * i + 1];
            }
            if (k == EMPTY) {
                return NIL;
            }
        }
    }

    private void hashPut(long offset, int id) {
        // Keep the load under 5/8 so probe runs stay short.
        if ((tableCount + 1) * 8L > (table.length >> 1) * 5L) {
            rehash();
        }
        long[] t = table;
        int mask = (t.length >> 1) - 1;
        int i = hashSlot(offset);
        while (t[2 * i] != EMPTY) {
            i = (i + 1) & mask;
        }
        t[2 * i] = offset;
        t[2 * i + 1] = id;
        tableCount++;
    }

    private void hashRemove(long offset) {
        long[] t = table;
        int mask = (t.length >> 1) - 1;
        int hole = hashSlot(offset);
        while (t[2 * hole] != offset) {
            hole = (hole + 1) & mask;
        }
        // Backward-shift deletion: no tombstones, so lookups never slow down with churn.
        for (int j = (hole + 1) & mask; t[2 * j] != EMPTY; j = (j + 1) & mask) {
            int home = hashSlot(t[2 * j]);
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                t[2 * hole] = t[2 * j];
                t[2 * hole + 1] = t[2 * j + 1];
                hole = j;
            }
        }
        t[2 * hole] = EMPTY;
        tableCount--;
    }

    private void rehash() {
        long[] old = table;
        table = new long[old.length * 2];
        Arrays.fill(table, EMPTY);
        tableShift--;
        tableCount = 0;
        for (int i = 0; i < old.length; i += 2) {
            if (old[i] != EMPTY) {
                hashPut(old[i], (int) old[i + 1]);
            }
        }
    }

    // ---- owners: a slot per owner id, each with a list of its blocks ----

    private int findOwnerSlot(int owner) {
        if (owner == lastOwner) {
            return lastSlot;
        }
        int mask = ownerKeys.length - 1;
        for (int i = mix(owner) & mask; ; i = (i + 1) & mask) {
            if (ownerKeys[i] == owner) {
                lastOwner = owner;
                lastSlot = ownerKeySlots[i];
                return lastSlot;
            }
            if (ownerKeys[i] == -1) {
                return -1;
            }
        }
    }

    private int ownerSlot(int owner) {
        int slot = findOwnerSlot(owner);
        if (slot >= 0) {
            return slot;
        }
        if (slotCount == slotOwner.length) {
            int capacity = 2 * slotCount;
            slotOwner = Arrays.copyOf(slotOwner, capacity);
            slotBytes = Arrays.copyOf(slotBytes, capacity);
            slotBlocks = Arrays.copyOf(slotBlocks, capacity);
            slotHead = Arrays.copyOf(slotHead, capacity);
        }
        slot = slotCount++;
        slotOwner[slot] = owner;
        slotHead[slot] = NIL;
        if (2 * slotCount > ownerKeys.length) {
            ownerKeys = new int[2 * ownerKeys.length];
            ownerKeySlots = new int[ownerKeys.length];
            Arrays.fill(ownerKeys, -1);
            for (int s = 0; s < slotCount; s++) {
                ownerKeyPut(slotOwner[s], s);
            }
        } else {
            ownerKeyPut(owner, slot);
        }
        lastOwner = owner;
        lastSlot = slot;
        return slot;
    }

    private void ownerKeyPut(int owner, int slot) {
        int mask = ownerKeys.length - 1;
        int i = mix(owner) & mask;
        while (ownerKeys[i] != -1) {
            i = (i + 1) & mask;
        }
        ownerKeys[i] = owner;
        ownerKeySlots[i] = slot;
    }

    private static int mix(int x) {
        int h = x * 0x9E37_79B9;
        return h ^ (h >>> 16);
    }

    private void ownerPush(int slot, int b) {
        int first = slotHead[slot];
        setLinks(b, NIL, first);
        if (first != NIL) {
            setLeft(first, b);
        }
        slotHead[slot] = b;
    }

    private void ownerUnlink(int slot, int b) {
        int before = leftOf(b);
        int after = rightOf(b);
        if (before == NIL) {
            slotHead[slot] = after;
        } else {
            setRight(before, after);
        }
        if (after != NIL) {
            setLeft(after, before);
        }
    }

    // ---- invariant checks ----

    private static void check(boolean ok, String violation) {
        if (!ok) {
            throw new IllegalStateException("BlockAllocator invariant violated: " + violation);
        }
    }

    private void checkTreap(boolean[] live) {
        int nodes = 0;
        int[] stack = new int[64];
        for (int tree = 0; tree < bins; tree++) {
            int t = roots[tree];
            check(t == NIL || (t >= 0 && t < idLimit && parentOf(t) == NIL), "bad root " + t + " of tree " + tree);
            boolean bit = (binBits[tree >>> 6] & (1L << tree)) != 0;
            if (tree != 0) {
                check(bit == (t != NIL), "bin " + tree + " emptiness disagrees with its bitmap bit");
                check((binSummary & (1L << (tree >>> 6))) != 0 || !bit, "bin summary misses bin " + tree);
            }
            // Iterative in-order walk: keys strictly increase, priorities never exceed the parent's.
            int depth = 0;
            int first = NIL;
            long lastLen = -1;
            long lastOff = -1;
            while (t != NIL || depth > 0) {
                while (t != NIL) {
                    check(t >= 0 && t < idLimit && live[t], "idle index holds a dead block id " + t);
                    check(isIdle(t), "idle index holds the in-use block at " + get(t, OFF));
                    check(treeOf(get(t, LEN)) == tree, "block at " + get(t, OFF) + " is in the wrong tree " + tree);
                    check(++nodes <= idleCount, "idle index holds more nodes than there are idle blocks");
                    if (depth == stack.length) {
                        stack = Arrays.copyOf(stack, 2 * depth);
                    }
                    stack[depth++] = t;
                    int l = leftOf(t);
                    check(l == NIL || priority(l) <= priority(t), "treap heap order broken at " + get(t, OFF));
                    check(l == NIL || parentOf(l) == t, "wrong treap parent link at " + get(t, OFF));
                    t = l;
                }
                t = stack[--depth];
                if (first == NIL) {
                    first = t;
                }
                long len = get(t, LEN);
                long off = get(t, OFF);
                check(len > lastLen || (len == lastLen && off > lastOff), "idle index out of order at " + off);
                lastLen = len;
                lastOff = off;
                int r = rightOf(t);
                check(r == NIL || priority(r) <= priority(t), "treap heap order broken at " + off);
                check(r == NIL || parentOf(r) == t, "wrong treap parent link at " + off);
                t = r;
            }
            check(tree == 0 || mins[tree] == first, "bin " + tree + " has a wrong lowest block");
        }
        for (int w = 0; w < binBits.length; w++) {
            check((binSummary & (1L << w)) != 0 == (binBits[w] != 0), "bin summary word " + w + " is wrong");
        }
        check(binSummary >>> binBits.length == 0 || binBits.length == 64, "bin summary has stray bits");
        check((binBits[0] & 1) == 0, "bin 0 is marked non-empty");
        check(nodes == idleCount, "idle index holds " + nodes + " blocks, but " + idleCount + " are idle");
    }

    private void checkOwners(long[] perSlotBytes, int[] perSlotBlocks) {
        for (int s = 0; s < slotCount; s++) {
            check(findOwnerSlot(slotOwner[s]) == s, "owner " + slotOwner[s] + " does not map to its slot");
            int count = 0;
            long bytes = 0;
            int previous = NIL;
            for (int b = slotHead[s]; b != NIL; b = rightOf(b)) {
                check(get(b, OWNER) == s, "owner list of " + slotOwner[s] + " holds a block it does not own");
                check(leftOf(b) == previous, "owner list of " + slotOwner[s] + " has a wrong back link");
                check(++count <= perSlotBlocks[s], "owner list of " + slotOwner[s] + " is too long");
                bytes += get(b, LEN);
                previous = b;
            }
            check(count == perSlotBlocks[s] && count == slotBlocks[s],
                    "owner " + slotOwner[s] + " block count disagrees");
            check(bytes == perSlotBytes[s] && bytes == slotBytes[s], "owner " + slotOwner[s] + " byte count disagrees");
        }
    }
}
