package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.ADJ;
import static dev.kvmctl.memory.BlockStore.NIL;

/**
 * Where the blocks are: the block that starts at an offset (a hash from the offset, in alignment
 * units, to the block id: expected O(1)), and each block's neighbours in address order (links in
 * the {@link BlockStore}'s {@code ADJ} field: O(1)), which is all merging needs.
 */
final class OffsetIndex {
    private final BlockStore store;
    private final long size;
    private final long alignMask;
    private final int alignShift;
    private final LongMap starts = new LongMap();

    /** An empty index over a region of {@code size} bytes with blocks aligned to {@code 1 << alignShift}. */
    OffsetIndex(BlockStore store, long size, int alignShift) {
        this.store = store;
        this.size = size;
        this.alignShift = alignShift;
        this.alignMask = (1L << alignShift) - 1;
    }

    /** {@return the block that starts at {@code offset}, or NIL: also for offsets outside the region or misaligned} */
    int blockAt(long offset) {
        if (offset < 0 || offset >= size || (offset & alignMask) != 0) {
            return NIL;
        }
        return (int) starts.get(offset >>> alignShift, NIL);
    }

    /** Records that block {@code id} starts at {@code offset} (no block may start there yet). */
    void add(long offset, int id) {
        starts.putNew(offset >>> alignShift, id);
    }

    /** Forgets the block that starts at {@code offset} (one must). */
    void remove(long offset) {
        starts.remove(offset >>> alignShift);
    }

    /** {@return how many blocks the index holds} */
    int count() {
        return starts.size();
    }

    /** {@return the heap bytes of the hash} */
    long footprintBytes() {
        return starts.footprintBytes();
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
