package dev.kvmctl.memory;

import java.util.Arrays;
import java.util.TreeSet;

/**
 * The floor study's allocator ({@link AllocatorFloorBenchmark}): {@link BlockAllocator}'s rules
 * (exact size first, else the smallest larger idle block split; freed neighbours merge) with the
 * cheapest layout found and nothing else. A measuring instrument, not an allocator to use: it keeps
 * no per-owner counts, answers no statistics, returns no result objects, checks a free only against
 * the block's first tag, and assumes 64-byte units, a region of at most 2^27 of them (8 GiB) and
 * owners 0 to 5.
 *
 * <p>One 4-byte tag per unit, {@code (size - 1) << 5 | HEAD | FOOT | kind}: HEAD at a block's first unit,
 * FOOT at its last (both for a one-unit block), kind {@value #IDLE} idle, 2 + owner in use, every
 * other unit 0 (boundary tags: both neighbours of a block are found next to it in memory, with no
 * lookup). One bin per exact size below {@value #BINS} units, with lazy removal as in
 * {@code IdleIndex}: an 8-ary heap of starts ({@link UnitHeap}) when ties go to the lowest address,
 * a stack when they go to the most recently freed block. Larger idle blocks (rare: the region's
 * tail) in a {@code TreeSet}.
 */
final class FloorAllocator implements AllocatorWorkload.Target {
    private static final int HEAD = 16;
    private static final int FOOT = 8;
    private static final int KIND = 7;
    private static final int IDLE = 1;
    private static final int BINS = 4096;
    private final boolean recent;
    private final int units;
    private final int[] tags;
    private final long[][] bins = new long[BINS][];
    private final int[] entries = new int[BINS];
    private final int[] counts = new int[BINS];
    private final long[] bits = new long[BINS / 64];
    private long summary;
    /** Idle blocks of BINS units or more, as size << 32 | start. */
    private final TreeSet<Long> large = new TreeSet<>();

    /** An empty region of {@code bytes}; ties to the most recently freed block if {@code recent}, else to the lowest address. */
    FloorAllocator(long bytes, boolean recent) {
        this.recent = recent;
        units = Math.toIntExact(bytes >>> 6);
        if (units > 1 << 27) {
            throw new IllegalArgumentException("at most 2^27 units: a size less one is kept in 27 bits");
        }
        tags = new int[units];
        addIdle(0, units);
    }

    private void mark(int start, int len, int kind) {
        int t = (len - 1) << 5 | kind;
        if (len == 1) {
            tags[start] = t | HEAD | FOOT;
        } else {
            tags[start] = t | HEAD;
            tags[start + len - 1] = t | FOOT;
        }
    }

    /** Whether a bin entry is live: an idle block of that bin's size starts there. */
    private boolean liveIn(int bin, long start) {
        int t = tags[(int) start];
        return (t & (HEAD | KIND)) == (HEAD | IDLE) && (t >>> 5) + 1 == bin;
    }

    private void addIdle(int start, int len) {
        mark(start, len, IDLE);
        if (len >= BINS) {
            large.add((long) len << 32 | start);
            return;
        }
        if (counts[len]++ == 0) {
            bits[len >>> 6] |= 1L << len;
            summary |= 1L << (len >>> 6);
        }
        long[] b = bins[len];
        int n = entries[len];
        if (b == null || n == b.length) {
            b = room(len);
            n = entries[len];
        }
        if (recent) {
            b[n] = start;
        } else {
            UnitHeap.push(b, n, start);
        }
        entries[len] = n + 1;
    }

    /** Drops the stale entries of a full bin when at least half are (order kept), else grows it. */
    private long[] room(int bin) {
        long[] b = bins[bin];
        int n = entries[bin];
        if (b != null && n - (counts[bin] - 1) >= n / 2 + 1) {
            int k = 0;
            for (int i = 0; i < n; i++) {
                if (liveIn(bin, b[i])) {
                    b[k++] = b[i];
                }
            }
            if (!recent) {
                Arrays.sort(b, 0, k);
            }
            entries[bin] = n = k;
        }
        if (b == null || n + 1 > b.length) {
            bins[bin] = b = b == null ? new long[8] : Arrays.copyOf(b, 2 * (n + 1));
        }
        return b;
    }

    private void removeIdle(int start, int len) {
        if (len >= BINS) {
            large.remove((long) len << 32 | start);
            return;
        }
        if (--counts[len] == 0) {
            entries[len] = 0;
            bits[len >>> 6] &= ~(1L << len);
            if (bits[len >>> 6] == 0) {
                summary &= ~(1L << (len >>> 6));
            }
            return;
        }
        long[] b = bins[len];
        if (recent) {
            if (b[entries[len] - 1] == start) {
                entries[len]--;
            }
        } else if (b[0] == start) {
            UnitHeap.pop(b, entries[len]--);
        }
    }

    private int nextBin(int k) {
        int w = k >>> 6;
        long m = bits[w] & (-1L << k);
        if (m != 0) {
            return (w << 6) + Long.numberOfTrailingZeros(m);
        }
        long words = w == bits.length - 1 ? 0 : summary & (-1L << (w + 1));
        if (words == 0) {
            return -1;
        }
        w = Long.numberOfTrailingZeros(words);
        return (w << 6) + Long.numberOfTrailingZeros(bits[w]);
    }

    @Override
    public long allocate(int owner, long bytes) {
        int n = (int) ((bytes + 63) >>> 6);
        int k = n < BINS ? nextBin(n) : -1;
        int start;
        int len;
        if (k > 0) {
            long[] b = bins[k];
            while (true) {
                long top = recent ? b[entries[k] - 1] : b[0];
                if (liveIn(k, top)) {
                    start = (int) top;
                    break;
                }
                if (recent) {
                    entries[k]--;
                } else {
                    UnitHeap.pop(b, entries[k]--);
                }
            }
            len = k;
        } else {
            Long c = large.ceiling((long) n << 32);
            if (c == null) {
                return -1;
            }
            start = (int) (long) c;
            len = (int) (c >>> 32);
        }
        removeIdle(start, len);
        if (len > n) {
            tags[start + len - 1] = 0;
            mark(start, n, 2 + owner);
            addIdle(start + n, len - n);
        } else {
            mark(start, n, 2 + owner);
        }
        return (long) start << 6;
    }

    @Override
    public boolean free(int owner, long offset) {
        int s = (int) (offset >>> 6);
        int t = tags[s];
        if ((t & (HEAD | KIND)) != (HEAD | (2 + owner))) {
            return false;
        }
        int len = (t >>> 5) + 1;
        int start = s;
        int end = s + len;
        int before = s > 0 ? tags[s - 1] : 0;
        int after = end < units ? tags[end] : 0;
        tags[s] = 0;
        tags[end - 1] = 0;
        if ((before & KIND) == IDLE) {
            int prevLen = (before >>> 5) + 1;
            start = s - prevLen;
            removeIdle(start, prevLen);
            tags[start] = 0;
            tags[s - 1] = 0;
        }
        if ((after & KIND) == IDLE) {
            int nextLen = (after >>> 5) + 1;
            removeIdle(end, nextLen);
            tags[end] = 0;
            tags[end + nextLen - 1] = 0;
            end += nextLen;
        }
        addIdle(start, end - start);
        return true;
    }
}
