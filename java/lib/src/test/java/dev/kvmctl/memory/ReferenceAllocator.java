package dev.kvmctl.memory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;

/**
 * The allocator's method spelled out as plainly as possible, the one reference model of the
 * project: the property tests compare {@link BlockAllocator}'s every answer with it, and the
 * benchmarks run it as the linear-scan baseline. One address-ordered list of block objects,
 * scanned from the start for every request (first for an exact fit, then for the smallest larger
 * block, the lowest address winning ties) and every free; splits and merges shift the list. Every
 * operation is O(n): only the cost differs from {@link BlockAllocator}, never an answer.
 */
final class ReferenceAllocator {
    private static final class Blk {
        final long off;
        long len;
        /** -1 while idle. */
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

    /** One idle block of {@code size} bytes, blocks aligned to {@code alignment} (a power of two). */
    ReferenceAllocator(long size, long alignment) {
        this.size = size;
        this.alignMask = alignment - 1;
        blocks.add(new Blk(0, size, -1));
    }

    /**
     * The state that allocating {@code lens} one after another from a fresh region, then freeing
     * those whose owner is given as -1, leaves behind; built in O(n), since doing it through
     * {@link #allocate} would take O(n^2): hours for the benchmarks' million blocks.
     */
    static ReferenceAllocator laidOut(long size, long alignment, long[] lens, int[] owners) {
        ReferenceAllocator a = new ReferenceAllocator(size, alignment);
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
        return new BlockResult.Done(offset, release(i));
    }

    /** Makes block i idle and merges it with idle neighbours; returns its size. */
    private long release(int i) {
        Blk b = blocks.get(i);
        long len = b.len;
        b.owner = -1;
        if (i + 1 < blocks.size() && blocks.get(i + 1).owner < 0) {
            b.len += blocks.remove(i + 1).len;
        }
        if (i > 0 && blocks.get(i - 1).owner < 0) {
            blocks.get(i - 1).len += blocks.remove(i).len;
        }
        return len;
    }

    /** As {@link BlockAllocator#allocateBatch}: {@code count} allocations until the first refusal. */
    int allocateBatch(int owner, long bytes, long[] offsetsOut, int from, int count) {
        for (int i = 0; i < count; i++) {
            if (!(allocate(owner, bytes) instanceof AllocationResult.Allocated a)) {
                return i;
            }
            offsetsOut[from + i] = a.offset();
        }
        return count;
    }

    /** As {@link BlockAllocator#freeBatch}: {@code count} frees until the first refusal. */
    int freeBatch(int owner, long[] offsets, int from, int count) {
        for (int i = 0; i < count; i++) {
            if (!free(owner, offsets[from + i]).isDone()) {
                return i;
            }
        }
        return count;
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

    BlockAllocator.Reclaimed freeAll(int owner) {
        int count = 0;
        long bytes = 0;
        for (int i = 0; i < blocks.size(); ) {
            Blk b = blocks.get(i);
            if (b.owner != owner) {
                i++;
                continue;
            }
            count++;
            bytes += release(i);
            // Merging may have removed b (into its left neighbour) or its right neighbour: go on
            // from the first block not yet looked at, which follows the idle block now at i - 1 or i.
            i = Math.max(0, i - 1);
        }
        return new BlockAllocator.Reclaimed(count, bytes);
    }

    AllocatorStats stats() {
        int used = 0;
        int idle = 0;
        long inUse = 0;
        Map<Integer, Long> byOwner = new HashMap<>();
        for (Blk b : blocks) {
            if (b.owner < 0) {
                idle++;
            } else {
                used++;
                inUse += b.len;
                byOwner.merge(b.owner, b.len, Long::sum);
            }
        }
        long idleBytes = size - inUse;
        long largest = largestIdle();
        double fragmentation = idleBytes == 0 ? 0.0 : 1.0 - (double) largest / idleBytes;
        return new AllocatorStats(size, used, idle, inUse, idleBytes, largest, fragmentation, byOwner);
    }
}
