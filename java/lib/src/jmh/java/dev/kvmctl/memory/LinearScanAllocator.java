package dev.kvmctl.memory;

import java.util.ArrayList;

/**
 * Baseline for the benchmarks only: the same method as {@link BlockAllocator} (exact fit, else best
 * fit at the lowest address, merge on free), written the straightforward way the patent describes
 * it: one address-ordered list of blocks, scanned linearly for every request and every free. Its
 * answers are identical to {@link BlockAllocator}'s ({@link LinearScanAllocatorCheck} verifies that);
 * only the cost differs: O(n) per operation, plus O(n) list shifting on split and merge.
 */
final class LinearScanAllocator {
    private static final class Blk {
        final long off;
        long len;
        int owner;

        Blk(long off, long len, int owner) {
            this.off = off;
            this.len = len;
            this.owner = owner;
        }
    }

    private final ArrayList<Blk> blocks = new ArrayList<>();
    private final long size;
    private final long alignMask;

    LinearScanAllocator(long size, long alignment) {
        this.size = size;
        this.alignMask = alignment - 1;
        blocks.add(new Blk(0, size, -1));
    }

    /**
     * The state that allocating {@code lens} one after another from a fresh region, then freeing
     * those whose owner is given as -1, leaves behind; built in O(n), since doing it through
     * {@link #allocate} would take O(n^2) and hours for a million blocks.
     */
    static LinearScanAllocator laidOut(long size, long alignment, long[] lens, int[] owners) {
        LinearScanAllocator a = new LinearScanAllocator(size, alignment);
        a.blocks.clear();
        long pos = 0;
        for (int i = 0; i < lens.length; i++) {
            Blk last = a.blocks.isEmpty() ? null : a.blocks.get(a.blocks.size() - 1);
            if (owners[i] < 0 && last != null && last.owner < 0) {
                last.len += lens[i];
            } else {
                a.blocks.add(new Blk(pos, lens[i], owners[i]));
            }
            pos += lens[i];
        }
        if (pos < size) {
            Blk last = a.blocks.isEmpty() ? null : a.blocks.get(a.blocks.size() - 1);
            if (last != null && last.owner < 0) {
                last.len += size - pos;
            } else {
                a.blocks.add(new Blk(pos, size - pos, -1));
            }
        }
        return a;
    }

    private long largestIdle() {
        long max = 0;
        for (Blk b : blocks) {
            if (b.owner < 0 && b.len > max) {
                max = b.len;
            }
        }
        return max;
    }

    AllocationResult allocate(int owner, long bytes) {
        if (bytes <= 0) {
            return new AllocationResult.Refused(AllocationResult.Reason.INVALID_SIZE, bytes, largestIdle());
        }
        if (bytes > size) {
            return new AllocationResult.Refused(AllocationResult.Reason.LARGER_THAN_REGION, bytes, largestIdle());
        }
        long n = (bytes + alignMask) & ~alignMask;
        int chosen = -1;
        int count = blocks.size();
        for (int i = 0; i < count; i++) {
            Blk b = blocks.get(i);
            if (b.owner < 0 && b.len == n) {
                chosen = i;
                break;
            }
        }
        if (chosen < 0) {
            long bestLen = Long.MAX_VALUE;
            for (int i = 0; i < count; i++) {
                Blk b = blocks.get(i);
                if (b.owner < 0 && b.len > n && b.len < bestLen) {
                    bestLen = b.len;
                    chosen = i;
                }
            }
        }
        if (chosen < 0) {
            return new AllocationResult.Refused(AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, bytes, largestIdle());
        }
        Blk b = blocks.get(chosen);
        if (b.len > n) {
            blocks.add(chosen + 1, new Blk(b.off + n, b.len - n, -1));
            b.len = n;
        }
        b.owner = owner;
        return new AllocationResult.Allocated(b.off, n);
    }

    private int indexOf(long offset) {
        int count = blocks.size();
        for (int i = 0; i < count; i++) {
            if (blocks.get(i).off == offset) {
                return i;
            }
        }
        return -1;
    }

    private BlockResult.Refused refusal(int i, int owner, long offset) {
        if (i < 0) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_A_BLOCK_START, offset, -1);
        }
        Blk b = blocks.get(i);
        if (b.owner < 0) {
            return new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, offset, -1);
        }
        if (b.owner != owner) {
            return new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, offset, b.owner);
        }
        return null;
    }

    BlockResult free(int owner, long offset) {
        int i = indexOf(offset);
        BlockResult.Refused no = refusal(i, owner, offset);
        if (no != null) {
            return no;
        }
        Blk b = blocks.get(i);
        long len = b.len;
        b.owner = -1;
        if (i + 1 < blocks.size() && blocks.get(i + 1).owner < 0) {
            b.len += blocks.remove(i + 1).len;
        }
        if (i > 0 && blocks.get(i - 1).owner < 0) {
            blocks.get(i - 1).len += blocks.remove(i).len;
        }
        return new BlockResult.Done(offset, len);
    }

    BlockResult transfer(int from, long offset, int to) {
        int i = indexOf(offset);
        BlockResult.Refused no = refusal(i, from, offset);
        if (no != null) {
            return no;
        }
        Blk b = blocks.get(i);
        b.owner = to;
        return new BlockResult.Done(offset, b.len);
    }

    int idleBlocks() {
        int idle = 0;
        for (Blk b : blocks) {
            if (b.owner < 0) {
                idle++;
            }
        }
        return idle;
    }

    int blocksInUse() {
        return blocks.size() - idleBlocks();
    }

    long largestIdleBlock() {
        return largestIdle();
    }
}
