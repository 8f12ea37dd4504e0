package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockTable.KEY;
import static dev.kvmctl.memory.BlockTable.LEN;
import static dev.kvmctl.memory.BlockTable.PREV;
import static dev.kvmctl.memory.BlockTable.TAG;

import java.util.Objects;

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
 * Only programming errors (a bad constructor argument, a negative owner id, a bad array range)
 * throw.
 *
 * <p>Cost: allocate, free and transfer touch a constant number of blocks (the block, its two
 * neighbours, one remainder) and take expected O(1) time for blocks smaller than 4096 alignment
 * units (256 KiB at the default alignment), with no scan and no tree walk: each block one record
 * found by its offset, with its size (so the next block) and the start of the previous one
 * ({@code BlockTable}); exact-size bins found with bitmaps, each a heap in address order
 * ({@code IdleIndex}); per-owner counts ({@code Owners}). Larger idle blocks sit in a treap:
 * expected O(log n). {@link #freeAll} walks the blocks in address order up to the owner's
 * last one: O(n). The calls allocate
 * no memory apart from their small result object (and the occasional doubling of an internal
 * array). {@code docs/allocator.md} has the design and measurements.
 *
 * <p>Thread safety: every public method holds one lock for its whole duration, so the allocator can
 * be shared by VM threads directly and {@link #stats()} is a consistent snapshot. The lock costs
 * one atomic instruction per call; a thread that finds it taken spins, then naps and retries, and
 * an interrupt does not end its wait. The batch calls
 * ({@link #allocateBatch}, {@link #freeBatch}) take it once for many blocks.
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
 * many blocks need: at most {@value #FOOTPRINT_PER_BLOCK} bytes of heap per alignment unit plus
 * {@value #FOOTPRINT_FIXED} bytes ({@link #footprintBytes()} says how much now), whatever the
 * sequence of calls. Whoever lets untrusted code allocate picks the alignment as a granule that
 * bounds this ({@link #granuleFor}): the heap then depends on the region's size, not on the
 * callers' behaviour.
 */
public final class BlockAllocator {
    /** The alignment used by {@link #BlockAllocator(long)}: one x86 cache line. */
    public static final long DEFAULT_ALIGNMENT = 64;

    /** The most blocks one allocator can hold at once; a split beyond it throws IllegalStateException. */
    public static final int MAX_BLOCKS = BlockTable.MAX_RECORDS;

    /**
     * Heap bytes per alignment unit that {@link #footprintBytes()} never exceeds (beyond
     * {@link #FOOTPRINT_FIXED}): under 103 for the block records (32 bytes each; regions of up to
     * 2^16 units: one per unit; larger ones: a hash of them kept at most 5/8 full, so under 3.2
     * slots per block after a doubling); 32 for the bins' heaps (8-byte entries, at most
     * {@code IdleIndex.SLACK} = 8 per idle block in a bin, and there is at most one idle block per
     * two units); 32 for the nodes of large idle blocks' tree (32 bytes each, an array at most twice
     * the most nodes held, at most one per two units). Bins and tree share the idle blocks, so
     * together they take at most 32 per unit: 135 in all; the constant keeps its earlier value, so
     * bounds computed from it stay true.
     */
    public static final long FOOTPRINT_PER_BLOCK = 176;
    /**
     * Fixed heap bytes besides {@link #FOOTPRINT_PER_BLOCK}: the size bins (16 bytes each: a
     * reference to the heap, entry and block counts; 4,096 at most) with their bitmap, the heaps'
     * fixed slack ({@code IdleIndex.SLACK_FIXED} = 4,096 entries of 8 bytes), and minimum array
     * sizes (owners not counted).
     */
    public static final long FOOTPRINT_FIXED = 160 * 1024;

    private final StepLock lock = new StepLock();
    private final long size;
    private final long alignment;
    private final long alignMask;
    private final int alignShift;
    private final long units;
    private final BlockTable table;
    private final IdleIndex idle;
    private final Owners owners;
    private int usedCount;
    private long bytesInUse;

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
        this(size, alignment, IdleIndex.MAX_BINS);
    }

    /** As {@link #BlockAllocator(long, long)}, with fewer size bins: lets tests push blocks into the treap. */
    BlockAllocator(long size, long alignment, int maxBins) {
        if (maxBins < 1 || maxBins > IdleIndex.MAX_BINS) {
            throw new IllegalArgumentException("maxBins must be in [1, " + IdleIndex.MAX_BINS + "], got " + maxBins);
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
        this.units = size >>> alignShift;
        this.table = new BlockTable(units);
        this.idle = new IdleIndex(table, units, maxBins);
        this.owners = new Owners();
        idle.insert(table.add(0, units, BlockTable.EMPTY));
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
        return Math.min(MAX_BLOCKS, size >>> alignShift);
    }

    /**
     * {@return the heap bytes the allocator's arrays take now (block records, size bins and their
     * heaps, the large blocks' tree, owner tables)} Never more than {@link #FOOTPRINT_PER_BLOCK}
     * &times; {@link #maxBlocks()} + {@link #FOOTPRINT_FIXED} + a few bytes per owner.
     */
    public long footprintBytes() {
        lock.lock();
        try {
            return table.footprintBytes() + idle.footprintBytes() + owners.footprintBytes();
        } finally {
            lock.unlock();
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
        lock.lock();
        try {
            if (bytes <= 0) {
                return new AllocationResult.Refused(AllocationResult.Reason.INVALID_SIZE, bytes, largestIdle());
            }
            if (bytes > size) {
                return new AllocationResult.Refused(AllocationResult.Reason.LARGER_THAN_REGION, bytes, largestIdle());
            }
            // No overflow: bytes <= size, and size is itself a multiple of the alignment.
            long n = (bytes + alignMask) & ~alignMask;
            long offset = take(owner, n);
            if (offset < 0) {
                return new AllocationResult.Refused(
                        AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, bytes, largestIdle());
            }
            return new AllocationResult.Allocated(offset, n);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Allocates up to {@code count} blocks of {@code bytes} bytes each for {@code owner} under one
     * lock, as {@code count} calls of {@link #allocate} would, one after another, and writes their
     * offsets to {@code offsetsOut[from]} onwards. It stops at the first block that cannot be
     * allocated; the blocks already allocated stay allocated. Each block's size is {@code bytes}
     * rounded up to the {@link #alignment()}. For why a block was refused, call {@link #allocate}.
     *
     * @param owner who will hold the blocks; non-negative
     * @param bytes the size of each block
     * @param offsetsOut where the offsets go
     * @param from the index in {@code offsetsOut} of the first offset
     * @param count how many blocks to allocate; 0 or more
     * @return how many blocks were allocated: their offsets are {@code offsetsOut[from]} to
     *     {@code offsetsOut[from + result - 1]}; 0 also for a size of 0 or less or larger than the region
     * @throws IllegalArgumentException if {@code owner} or {@code count} is negative
     * @throws IndexOutOfBoundsException if {@code [from, from + count)} is not inside {@code offsetsOut}
     */
    public int allocateBatch(int owner, long bytes, long[] offsetsOut, int from, int count) {
        requireOwner(owner);
        requireRange(offsetsOut, from, count);
        lock.lock();
        try {
            if (bytes <= 0 || bytes > size) {
                return 0;
            }
            long n = (bytes + alignMask) & ~alignMask;
            for (int i = 0; i < count; i++) {
                long offset = take(owner, n);
                if (offset < 0) {
                    return i;
                }
                offsetsOut[from + i] = offset;
            }
            return count;
        } finally {
            lock.unlock();
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
        lock.lock();
        try {
            int r = recordAt(offset);
            BlockResult.Refused no = refusal(r, owner, offset);
            if (no != null) {
                return no;
            }
            return new BlockResult.Done(offset, give(r));
        } finally {
            lock.unlock();
        }
    }

    /**
     * Frees up to {@code count} blocks of {@code owner} under one lock, as {@code count} calls of
     * {@link #free} would, one after another, with the offsets {@code offsets[from]} onwards. It
     * stops at the first offset that would be refused (not a block start, idle, another owner's),
     * which stays untouched; the blocks before it are freed. For why, call {@link #free} with it.
     *
     * @param owner who holds the blocks; non-negative
     * @param offsets where the blocks start
     * @param from the index in {@code offsets} of the first one
     * @param count how many to free; 0 or more
     * @return how many were freed: {@code offsets[from]} to {@code offsets[from + result - 1]}
     * @throws IllegalArgumentException if {@code owner} or {@code count} is negative
     * @throws IndexOutOfBoundsException if {@code [from, from + count)} is not inside {@code offsets}
     */
    public int freeBatch(int owner, long[] offsets, int from, int count) {
        requireOwner(owner);
        requireRange(offsets, from, count);
        lock.lock();
        try {
            for (int i = 0; i < count; i++) {
                int r = recordAt(offsets[from + i]);
                if (refusal(r, owner, offsets[from + i]) != null) {
                    return i;
                }
                give(r);
            }
            return count;
        } finally {
            lock.unlock();
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
        lock.lock();
        try {
            int r = recordAt(offset);
            BlockResult.Refused no = refusal(r, fromOwner, offset);
            if (no != null) {
                return no;
            }
            int to = owners.slotFor(toOwner); // may grow the owner tables: before any change
            long[] rec = table.rec;
            long n = rec[r + LEN] << alignShift;
            int from = (int) rec[r + TAG];
            if (to != from) {
                owners.remove(from, n);
                owners.add(to, n);
                rec[r + TAG] = to;
            }
            return new BlockResult.Done(offset, n);
        } finally {
            lock.unlock();
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
     * Frees every block {@code owner} holds, as when its VM faulted or closed. Walks the blocks in
     * address order up to the owner's last one: O(n) for n blocks (no per-owner list is kept, which
     * would cost every free two cache misses at a million blocks).
     *
     * @param owner whose blocks to free; non-negative; an owner with no blocks is fine
     * @return how many blocks and bytes were freed
     * @throws IllegalArgumentException if {@code owner} is negative
     */
    public Reclaimed freeAll(int owner) {
        requireOwner(owner);
        lock.lock();
        try {
            int slot = owners.find(owner);
            if (slot < 0 || owners.blocks(slot) == 0) {
                return new Reclaimed(0, 0);
            }
            int count = owners.blocks(slot);
            long bytes = owners.bytes(slot);
            // After a release the merged idle block's successor is in use or the end (no two idle
            // blocks are adjacent), so the walk goes on from there; it stops at the last of them.
            for (long u = 0, left = count; left > 0; ) {
                int r = table.find(u);
                if (table.rec[r + TAG] == slot) {
                    r = release(r);
                    left--;
                }
                u = table.rec[r + KEY] + table.rec[r + LEN];
            }
            owners.clear(slot);
            bytesInUse -= bytes;
            usedCount -= count;
            return new Reclaimed(count, bytes);
        } finally {
            lock.unlock();
        }
    }

    /**
     * {@return a consistent snapshot of the counts, taken under the allocator's lock} Costs
     * O(log n) plus the number of owners.
     */
    public AllocatorStats stats() {
        lock.lock();
        try {
            long idleBytes = size - bytesInUse;
            long largest = largestIdle();
            double fragmentation = idleBytes == 0 ? 0.0 : 1.0 - (double) largest / idleBytes;
            return new AllocatorStats(size, usedCount, idle.count(), bytesInUse, idleBytes, largest, fragmentation,
                    owners.bytesByOwner());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Verifies every internal invariant in O(n), for tests and debugging: the blocks tile
     * [0, size) with no gap or overlap, all aligned; no two idle blocks are adjacent; the idle index
     * holds exactly the idle blocks, each where its size says, in order; the offset index finds
     * every block; per-owner and all other counters agree with the blocks.
     *
     * @throws IllegalStateException describing the first violation found
     */
    public void checkInvariants() {
        lock.lock();
        try {
            long[] perSlotBytes = new long[owners.slots()];
            int[] perSlotBlocks = new int[owners.slots()];
            int blocksSeen = 0;
            int idleSeen = 0;
            int usedSeen = 0;
            long usedBytes = 0;
            long pos = 0;
            long previous = BlockTable.EMPTY;
            boolean previousIdle = false;
            while (pos < units) {
                int r = table.find(pos);
                check(r >= 0, "no block starts at " + (pos << alignShift) + ", where the previous one ends");
                long[] rec = table.rec;
                blocksSeen++;
                long off = pos << alignShift;
                long len = rec[r + LEN];
                check(rec[r + PREV] == previous, "block at " + off + " has a wrong previous link");
                check(len > 0 && len <= units - pos, "block at " + off + " has bad length " + (len << alignShift));
                long slot = rec[r + TAG];
                if (slot < 0) {
                    idleSeen++;
                    check(!previousIdle, "adjacent idle blocks at " + off);
                } else {
                    check(slot < owners.slots(), "block at " + off + " has bad owner slot " + slot);
                    usedSeen++;
                    usedBytes += len << alignShift;
                    perSlotBytes[(int) slot] += len << alignShift;
                    perSlotBlocks[(int) slot]++;
                }
                previousIdle = slot < 0;
                previous = pos;
                pos += len;
            }
            check(usedSeen == usedCount, "in-use count " + usedCount + " but " + usedSeen + " blocks in use");
            check(usedBytes == bytesInUse, "bytes in use " + bytesInUse + " but blocks hold " + usedBytes);
            check(table.count() == blocksSeen, "the block table holds " + table.count() + " records for " + blocksSeen + " blocks");
            idle.check(idleSeen);
            owners.check(perSlotBytes, perSlotBlocks);
        } finally {
            lock.unlock();
        }
    }

    /** Region size, counts and bytes in use, for logs. */
    @Override
    public String toString() {
        lock.lock();
        try {
            return "BlockAllocator[size=" + size + ", alignment=" + alignment + ", inUse=" + usedCount
                    + " blocks/" + bytesInUse + " bytes, idle=" + idle.count() + " blocks/" + (size - bytesInUse) + " bytes]";
        } finally {
            lock.unlock();
        }
    }

    /** Fails an invariant check: {@code IllegalStateException} with {@code violation} unless {@code ok}. */
    static void check(boolean ok, String violation) {
        if (!ok) {
            throw new IllegalStateException("BlockAllocator invariant violated: " + violation);
        }
    }

    // ---- the method ----

    /** {@return the size in bytes of the largest idle block, 0 if none} */
    private long largestIdle() {
        return idle.largest() << alignShift;
    }

    /** {@return the record of the block that starts at {@code offset}, or -1: also for offsets outside the region or misaligned} */
    private int recordAt(long offset) {
        if (offset < 0 || offset >= size || (offset & alignMask) != 0) {
            return -1;
        }
        return table.find(offset >>> alignShift);
    }

    /** Gives {@code owner} the best fit for {@code n} (aligned, 0 < n <= size) bytes; returns its offset, or -1. */
    private long take(int owner, long n) {
        long want = n >>> alignShift;
        int r = idle.bestFit(want);
        if (r < 0) {
            return -1;
        }
        long unit = table.rec[r + KEY];
        long found = table.rec[r + LEN];
        // Everything that can fail (table and slot growth) happens before the first change.
        int slot = owners.slotFor(owner);
        if (found > want && table.ensureRoom()) {
            r = table.find(unit); // the records moved
        }
        idle.remove(r);
        long[] rec = table.rec;
        rec[r + TAG] = slot;
        if (found > want) {
            rec[r + LEN] = want;
            long rest = unit + want;
            long end = unit + found;
            if (end < units) {
                rec[table.find(end) + PREV] = rest;
            }
            idle.insert(table.add(rest, found - want, unit)); // adding moves no record
        }
        owners.add(slot, n);
        bytesInUse += n;
        usedCount++;
        return unit << alignShift;
    }

    /** Frees the in-use block at record {@code r} (its owner checked); returns its size in bytes. */
    private long give(int r) {
        long[] rec = table.rec;
        long n = rec[r + LEN] << alignShift;
        owners.remove((int) rec[r + TAG], n);
        bytesInUse -= n;
        usedCount--;
        release(r);
        return n;
    }

    /** The refusal for freeing or transferring the block at record {@code r} as {@code owner}, or null if allowed. */
    private BlockResult.Refused refusal(int r, int owner, long offset) {
        if (r < 0) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_A_BLOCK_START, offset, -1);
        }
        long slot = table.rec[r + TAG];
        if (slot < 0) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, offset, -1);
        }
        int holder = owners.owner((int) slot);
        if (holder != owner) {
            return new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, offset, holder);
        }
        return null;
    }

    /**
     * Turns the in-use block at record {@code r} (already off its owner's counts) idle, merging it
     * with idle neighbours; returns the record of the idle block it ends in.
     */
    private int release(int r) {
        long[] rec = table.rec;
        long unit = rec[r + KEY];
        long len = rec[r + LEN];
        long before = rec[r + PREV];
        long after = unit + len;
        // Both neighbours are looked up before either is used, so at a million blocks their cache
        // misses overlap.
        int a = after < units ? table.find(after) : -1;
        int b = before >= 0 ? table.find(before) : -1;
        boolean mergeAfter = a >= 0 && rec[a + TAG] < 0;
        boolean mergeBefore = b >= 0 && rec[b + TAG] < 0;
        if (!mergeAfter && !mergeBefore) {
            idle.insert(r);
            return r;
        }
        // Leave the idle index before the sizes change, and the table's records move.
        long end = after;
        if (mergeAfter) {
            idle.remove(a);
            end = after + rec[a + LEN];
        }
        if (mergeBefore) {
            idle.remove(b);
        }
        long start = mergeBefore ? before : unit;
        if (mergeAfter) {
            table.remove(a);
        }
        if (mergeBefore) {
            table.remove(table.find(unit));
        }
        // Removals may have moved the records: the merged block and the one after it are found again.
        int m = table.find(start);
        rec[m + LEN] = end - start;
        if (end < units) {
            rec[table.find(end) + PREV] = start;
        }
        idle.insert(m);
        return m;
    }

    private static void requireOwner(int owner) {
        if (owner < 0) {
            throw new IllegalArgumentException("owner ids must be non-negative, got " + owner);
        }
    }

    private static void requireRange(long[] array, int from, int count) {
        Objects.requireNonNull(array, "offsets");
        if (count < 0) {
            throw new IllegalArgumentException("count must be 0 or more, got " + count);
        }
        Objects.checkFromIndexSize(from, count, array.length);
    }
}
