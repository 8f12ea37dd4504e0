package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.ADJ;
import static dev.kvmctl.memory.BlockStore.NIL;

import java.util.Arrays;

/**
 * Where the blocks are: the block that starts at an offset, and each block's neighbours in address
 * order (links in the {@link BlockStore}'s {@code ADJ} field: O(1)), which is all merging needs.
 *
 * <p>A region of at most {@value #DIRECT_UNITS} alignment units (every region a {@code SharedRegion}
 * makes, whose granule caps it at 2^18) keeps the block id of every unit in an {@code int[]}: one
 * array read, no hashing or probing, 4 bytes per unit, far under the per-unit heap bound. Larger
 * regions use a hash from the offset in units to the id ({@link LongMap}, expected O(1)), whose heap
 * follows the blocks held rather than the region's size.
 */
final class OffsetIndex {
    private final BlockStore store;
    private final long size;
    private final long alignMask;
    private final int alignShift;
    /** Regions of up to this many units get the direct table: 1 MiB at most. */
    static final int DIRECT_UNITS = 1 << 18;

    /** The id of the block starting at each unit, NIL elsewhere; null for regions larger than DIRECT_UNITS. */
    private final int[] direct;
    /** Offset in units to id, for regions larger than DIRECT_UNITS; null otherwise. */
    private final LongMap starts;
    private int count;

    /** An empty index over a region of {@code size} bytes with blocks aligned to {@code 1 << alignShift}. */
    OffsetIndex(BlockStore store, long size, int alignShift) {
        this.store = store;
        this.size = size;
        this.alignShift = alignShift;
        this.alignMask = (1L << alignShift) - 1;
        long units = size >>> alignShift;
        if (units <= DIRECT_UNITS) {
            direct = new int[(int) units];
            Arrays.fill(direct, NIL);
            starts = null;
        } else {
            direct = null;
            starts = new LongMap();
        }
    }

    /** {@return the block that starts at {@code offset}, or NIL: also for offsets outside the region or misaligned} */
    int blockAt(long offset) {
        if (offset < 0 || offset >= size || (offset & alignMask) != 0) {
            return NIL;
        }
        if (direct != null) {
            return direct[(int) (offset >>> alignShift)];
        }
        return (int) starts.get(offset >>> alignShift, NIL);
    }

    /** Records that block {@code id} starts at {@code offset} (no block may start there yet). */
    void add(long offset, int id) {
        count++;
        if (direct != null) {
            direct[(int) (offset >>> alignShift)] = id;
        } else {
            starts.putNew(offset >>> alignShift, id);
        }
    }

    /** Forgets the block that starts at {@code offset} (one must). */
    void remove(long offset) {
        count--;
        if (direct != null) {
            direct[(int) (offset >>> alignShift)] = NIL;
        } else {
            starts.remove(offset >>> alignShift);
        }
    }

    /** {@return how many blocks the index holds} */
    int count() {
        return count;
    }

    /** {@return the heap bytes of the table or the hash} */
    long footprintBytes() {
        return direct != null ? 4L * direct.length : starts.footprintBytes();
    }

    int prev(int id) {
        return store.high(id, ADJ);
    }

    int next(int id) {
        return store.low(id, ADJ);
    }

    /** Makes {@code id} the only block: no neighbours. */
    void linkAlone(int id) {
        store.setPair(id, ADJ, NIL, NIL);
    }

    /** Links {@code id} into address order right after {@code before}. */
    void linkAfter(int before, int id) {
        int after = next(before);
        store.setPair(id, ADJ, before, after);
        if (after != NIL) {
            store.setHigh(after, ADJ, id);
        }
        store.setLow(before, ADJ, id);
    }

    /** Takes {@code id}, which has a previous block, out of address order. */
    void unlink(int id) {
        int before = prev(id);
        int after = next(id);
        store.setLow(before, ADJ, after);
        if (after != NIL) {
            store.setHigh(after, ADJ, before);
        }
    }
}
