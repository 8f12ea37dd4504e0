package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.LEN;
import static dev.kvmctl.memory.BlockStore.NIL;
import static dev.kvmctl.memory.BlockStore.OFF;
import static dev.kvmctl.memory.BlockStore.TAG;

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
 * units (256 KiB at the default alignment), with no scan and no tree walk: exact-size bins found
 * with bitmaps, each bin in address order by a bitmap trie of offsets (see {@code IdleIndex}), an
 * offset table or hash and address links for neighbours ({@code OffsetIndex}), blocks as primitive arrays
 * ({@code BlockStore}), per-owner counts ({@code Owners}). Larger idle blocks sit in a
 * treap: expected O(log n). {@link #freeAll} walks the blocks in address order up to the owner's
 * last one: O(n). The calls allocate
 * no memory apart from their small result object (and the occasional doubling of an internal
 * array). {@code docs/allocator.md} has the design and measurements.
 *
 * <p>Thread safety: every public method holds one lock for its whole duration, so the allocator can
 * be shared by VM threads directly and {@link #stats()} is a consistent snapshot. The batch calls
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
    public static final int MAX_BLOCKS = BlockStore.MAX_IDS;

    /**
     * Heap bytes per alignment unit that {@link #footprintBytes()} never exceeds (beyond
     * {@link #FOOTPRINT_FIXED}): 40 for the block fields and 4 for recycled ids; under 52 for the
     * offset index (regions of up to 2^18 units: a table of 4 bytes per unit; larger ones: a hash,
     * one entry of 16 bytes per block, kept at most 5/8 full, so under 3.2 slots per entry after a
     * doubling); 64 for the bins' heaps (16-byte entries, at most {@code IdleIndex.SLACK} = 8 per
     * idle block in a bin, and there is at most one idle block per two units).
     */
    public static final long FOOTPRINT_PER_BLOCK = 176;
    /**
     * Fixed heap bytes besides {@link #FOOTPRINT_PER_BLOCK}: the size bins (16 bytes each: a
     * reference to the heap, entry and block counts; 4,096 at most) with their bitmap, the heaps'
     * fixed slack ({@code IdleIndex.SLACK_FIXED} = 4,096 entries of 16 bytes), and minimum array
     * sizes (owners not counted).
     */
    public static final long FOOTPRINT_FIXED = 160 * 1024;

    private final Object lock = new Object();
    private final long size;
    private final long alignment;
    private final long alignMask;
    private final int alignShift;
    private final BlockStore store;
    private final OffsetIndex offsets;
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
        long units = size >>> alignShift;
        this.store = new BlockStore((int) Math.min(MAX_BLOCKS, units));
        this.offsets = new OffsetIndex(store, size, alignShift);
        this.idle = new IdleIndex(store, units, alignShift, maxBins);
        this.owners = new Owners(store);

        int head = store.newId(); // id 0: the block at offset 0 is never merged away, so it stays 0
        store.set(head, OFF, 0);
        store.set(head, LEN, size);
        offsets.linkAlone(head);
        offsets.add(0, head);
        idle.insert(head);
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
     * {@return the heap bytes the allocator's arrays take now (block fields, recycled ids, offset
     * hash, size bins and their heaps, owner tables)} Never more than {@link #FOOTPRINT_PER_BLOCK}
     * &times; {@link #maxBlocks()} + {@link #FOOTPRINT_FIXED} + a few bytes per owner.
     */
    public long footprintBytes() {
        synchronized (lock) {
            return store.footprintBytes() + offsets.footprintBytes() + idle.footprintBytes() + owners.footprintBytes();
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
                return new AllocationResult.Refused(AllocationResult.Reason.INVALID_SIZE, bytes, idle.largest());
            }
            if (bytes > size) {
                return new AllocationResult.Refused(AllocationResult.Reason.LARGER_THAN_REGION, bytes, idle.largest());
            }
            // No overflow: bytes <= size, and size is itself a multiple of the alignment.
            long n = (bytes + alignMask) & ~alignMask;
            long offset = take(owner, n);
            if (offset < 0) {
                return new AllocationResult.Refused(
                        AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, bytes, idle.largest());
            }
            return new AllocationResult.Allocated(offset, n);
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
        synchronized (lock) {
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
            int b = offsets.blockAt(offset);
            BlockResult.Refused no = refusal(b, owner, offset);
            if (no != null) {
                return no;
            }
            return new BlockResult.Done(offset, give(b));
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
        synchronized (lock) {
            for (int i = 0; i < count; i++) {
                int b = this.offsets.blockAt(offsets[from + i]);
                if (refusal(b, owner, offsets[from + i]) != null) {
                    return i;
                }
                give(b);
            }
            return count;
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
            int b = offsets.blockAt(offset);
            BlockResult.Refused no = refusal(b, fromOwner, offset);
            if (no != null) {
                return no;
            }
            long n = store.get(b, LEN);
            int to = owners.slotFor(toOwner);
            if (to != store.get(b, TAG)) {
                owners.remove(b, n);
                owners.add(to, b, n);
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
        synchronized (lock) {
            int slot = owners.find(owner);
            if (slot < 0 || owners.blocks(slot) == 0) {
                return new Reclaimed(0, 0);
            }
            int count = owners.blocks(slot);
            long bytes = owners.bytes(slot);
            // After a release the merged idle block's successor is in use or NIL (no two idle
            // blocks are adjacent), so the walk goes on from there; it stops at the last of them.
            for (int b = 0, left = count; left > 0; ) {
                if (store.get(b, TAG) == slot) {
                    b = release(b);
                    left--;
                }
                b = offsets.next(b);
            }
            owners.clear(slot);
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
            long idleBytes = size - bytesInUse;
            long largest = idle.largest();
            double fragmentation = idleBytes == 0 ? 0.0 : 1.0 - (double) largest / idleBytes;
            return new AllocatorStats(size, usedCount, idle.count(), bytesInUse, idleBytes, largest, fragmentation,
                    owners.bytesByOwner());
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
        synchronized (lock) {
            int idLimit = store.idLimit();
            boolean[] live = new boolean[idLimit];
            long[] perSlotBytes = new long[owners.slots()];
            int[] perSlotBlocks = new int[owners.slots()];
            int blocksSeen = 0;
            int idleSeen = 0;
            int usedSeen = 0;
            long usedBytes = 0;
            long pos = 0;
            int previous = NIL;
            check(idLimit > 0 && store.get(0, OFF) == 0, "the first block is not at offset 0");
            for (int b = 0; b != NIL; b = offsets.next(b)) {
                check(b >= 0 && b < idLimit && !live[b], "address list reaches bad or repeated id " + b);
                live[b] = true;
                blocksSeen++;
                long off = store.get(b, OFF);
                long len = store.get(b, LEN);
                check(offsets.prev(b) == previous, "block at " + off + " has a wrong previous link");
                check(off == pos, "gap or overlap at " + pos + ": next block starts at " + off);
                check(len > 0 && len <= size - pos, "block at " + off + " has bad length " + len);
                check((off & alignMask) == 0 && (len & alignMask) == 0, "block at " + off + " is misaligned");
                check(offsets.blockAt(off) == b, "offset index does not find the block at " + off);
                long slot = store.get(b, TAG);
                if (slot < 0) {
                    idleSeen++;
                    check(previous == NIL || !store.isIdle(previous), "adjacent idle blocks at " + off);
                } else {
                    check(slot < owners.slots(), "block at " + off + " has bad owner slot " + slot);
                    usedSeen++;
                    usedBytes += len;
                    perSlotBytes[(int) slot] += len;
                    perSlotBlocks[(int) slot]++;
                }
                pos += len;
                previous = b;
            }
            check(pos == size, "blocks cover " + pos + " bytes of " + size);
            check(usedSeen == usedCount, "in-use count " + usedCount + " but " + usedSeen + " blocks in use");
            check(usedBytes == bytesInUse, "bytes in use " + bytesInUse + " but blocks hold " + usedBytes);
            check(offsets.count() == blocksSeen, "offset index has " + offsets.count() + " entries for " + blocksSeen);

            boolean[] recycled = new boolean[idLimit];
            int[] ids = store.recycledIds();
            for (int id : ids) {
                check(id >= 0 && id < idLimit && !live[id] && !recycled[id], "bad recycled id " + id);
                recycled[id] = true;
            }
            check(ids.length + blocksSeen == idLimit, "ids leaked: " + (idLimit - ids.length - blocksSeen));

            idle.check(live, idleSeen);
            owners.check(perSlotBytes, perSlotBlocks);
        }
    }

    /** Region size, counts and bytes in use, for logs. */
    @Override
    public String toString() {
        synchronized (lock) {
            return "BlockAllocator[size=" + size + ", alignment=" + alignment + ", inUse=" + usedCount
                    + " blocks/" + bytesInUse + " bytes, idle=" + idle.count() + " blocks/" + (size - bytesInUse) + " bytes]";
        }
    }

    /** Fails an invariant check: {@code IllegalStateException} with {@code violation} unless {@code ok}. */
    static void check(boolean ok, String violation) {
        if (!ok) {
            throw new IllegalStateException("BlockAllocator invariant violated: " + violation);
        }
    }

    // ---- the method ----

    /** Gives {@code owner} the best fit for {@code n} (aligned, 0 < n <= size) bytes; returns its offset, or -1. */
    private long take(int owner, long n) {
        int best = idle.bestFit(n >>> alignShift);
        if (best == NIL) {
            return -1;
        }
        long found = store.get(best, LEN);
        // Everything that can fail (id and slot table growth) happens before the first change.
        int rest = found > n ? store.newId() : NIL;
        int slot = owners.slotFor(owner);
        idle.remove(best);
        long offset = store.get(best, OFF);
        if (rest != NIL) {
            store.set(rest, OFF, offset + n);
            store.set(rest, LEN, found - n);
            store.set(best, LEN, n);
            offsets.linkAfter(best, rest);
            offsets.add(offset + n, rest);
            idle.insert(rest);
        }
        owners.add(slot, best, n);
        bytesInUse += n;
        usedCount++;
        return offset;
    }

    /** Frees in-use block {@code b} (its owner checked); returns its size. */
    private long give(int b) {
        long n = store.get(b, LEN);
        owners.remove(b, n);
        bytesInUse -= n;
        usedCount--;
        release(b);
        return n;
    }

    /** The refusal for freeing or transferring block {@code b} as {@code owner}, or null if allowed. */
    private BlockResult.Refused refusal(int b, int owner, long offset) {
        if (b == NIL) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_A_BLOCK_START, offset, -1);
        }
        long slot = store.get(b, TAG);
        if (slot < 0) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, offset, -1);
        }
        int holder = owners.owner((int) slot);
        if (holder != owner) {
            return new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, offset, holder);
        }
        return null;
    }

    /** Turns in-use block {@code b} (already off its owner's counts) idle, merging with idle neighbours; returns the idle block it ends in. */
    private int release(int b) {
        int after = offsets.next(b);
        if (after != NIL && store.isIdle(after)) {
            // Leave the idle index before the key (the length) changes.
            idle.remove(after);
            // The neighbour starts where b ends: its offset-index entry is found without waiting
            // for its fields, so at a million blocks the two cache misses overlap.
            long len = store.get(b, LEN);
            offsets.remove(store.get(b, OFF) + len);
            store.set(b, LEN, len + store.get(after, LEN));
            offsets.unlink(after);
            store.freeId(after);
        }
        int before = offsets.prev(b);
        if (before != NIL && store.isIdle(before)) {
            idle.remove(before);
            offsets.remove(store.get(b, OFF));
            store.set(before, LEN, store.get(before, LEN) + store.get(b, LEN));
            offsets.unlink(b);
            store.freeId(b);
            b = before;
        }
        idle.insert(b);
        return b;
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
