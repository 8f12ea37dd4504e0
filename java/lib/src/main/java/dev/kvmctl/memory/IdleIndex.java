package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.LEN;
import static dev.kvmctl.memory.BlockStore.LINK;
import static dev.kvmctl.memory.BlockStore.NIL;
import static dev.kvmctl.memory.BlockStore.OFF;
import static dev.kvmctl.memory.BlockStore.STRIDE;
import static dev.kvmctl.memory.BlockStore.TAG;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The idle blocks, ordered for best fit: the smallest idle block of at least n units, the lowest
 * addressed among equals.
 *
 * <p>Small blocks (fewer than {@code bins} alignment units, 4096 at most: 256 KiB at 64 bytes) sit in
 * one <em>bin</em> per exact size. A two-level bitmap of the non-empty bins finds the first bin that
 * fits with two bit scans. Each bin is a min-heap of (offset in units, block id) pairs
 * ({@link PairHeap}), so its top is its lowest-addressed block. Removal is lazy: a block that
 * leaves a bin (merged, retired) only lowers the bin's count, and its entry stays behind, stale,
 * until it reaches the top, where a look at the block's own fields (idle, this offset, this size)
 * tells it apart and drops it, or until the bin is compacted. So a merge costs the bins nothing; a
 * request costs the top entry's block (which it takes anyway) and a descent of a 4-ary heap whose
 * upper levels stay in cache; an insert is usually one comparison at the bottom. There is no
 * hashing and no tree walk.
 *
 * <p>Stale entries are bounded: a bin whose heap is full and at least half stale is compacted (its
 * live entries kept once each, re-heaped in O(n)) before it grows, a bin whose count drops to 0
 * drops its entries at once, and when all heaps together hold more than {@value #SLACK} times the
 * idle blocks plus {@value #SLACK_FIXED} entries, every bin with more than {@value #SHRINK} times
 * its count is compacted and shrunk.
 *
 * <p>Large blocks (rare: they are split as soon as a small request takes their front) sit in one
 * treap ordered by (size, offset); each node keeps its parent (in {@code TAG}, as
 * {@code -2 - parent}) so a merge takes a neighbour out without a search. Treap priorities are a keyed
 * mix of the block id with a per-instance random seed: no memory, and no request sequence can
 * unbalance the tree on purpose; answers never depend on the seed.
 */
final class IdleIndex {
    /** Sizes below this many alignment units get an exact-size bin. */
    static final int MAX_BINS = 4096;
    /** All heaps together hold at most this many entries per idle block (plus SLACK_FIXED) ... */
    static final int SLACK = 8;
    /** ... plus this many. */
    static final int SLACK_FIXED = 4096;
    /** ... beyond which bins holding more than this many entries per block are compacted. */
    static final int SHRINK = 2;
    /** The TAG of an idle block in a bin. */
    private static final long IN_BIN = -1;
    /** High half of a compaction mark in LINK (unused by blocks in bins): no tree link has it. */
    private static final long MARK = (long) Integer.MIN_VALUE << 32;

    private final BlockStore store;
    private final int alignShift;
    private final int prioritySeed;
    /** Sizes 1 to bins - 1 (in units) have bins; larger blocks go to the treap. */
    final int bins;
    /** Each bin's heap of (unit, id) entries, null until used. */
    private final long[][] heaps;
    /** How many entries (live or stale) each bin's heap holds. */
    private final int[] heapSizes;
    /** How many idle blocks each bin holds. */
    private final int[] binCounts;
    /** Bit k set when bin k is non-empty, plus a summary bit per word. */
    private final long[] binBits;
    private long binSummary;
    /** The room of all heaps together, in entries. */
    private long heapRoom;
    private int smallCount;
    private long marks;
    private int root = NIL;
    private int count;

    /**
     * An empty index for a region of {@code units} alignment units, with at most {@code maxBins}
     * (1 to {@link #MAX_BINS}) bins; 1 means none (every idle block in the treap).
     */
    IdleIndex(BlockStore store, long units, int alignShift, int maxBins) {
        this.store = store;
        this.alignShift = alignShift;
        this.prioritySeed = new SplittableRandom().nextInt();
        // No bin can hold a block larger than the region.
        this.bins = units >= maxBins ? maxBins : (int) units + 1; // units + 1 could overflow
        this.heaps = new long[bins][];
        this.heapSizes = new int[bins];
        this.binCounts = new int[bins];
        this.binBits = new long[(bins + 63) >>> 6];
    }

    /** {@return how many idle blocks the index holds} */
    int count() {
        return count;
    }

    /** {@return the heap bytes of the bins (8 per reference to a bin's heap) and their heaps} */
    long footprintBytes() {
        return 8L * heaps.length + 16L * heapRoom + 4L * heapSizes.length + 4L * binCounts.length + 8L * binBits.length;
    }

    private int binOf(long len) {
        long units = len >>> alignShift;
        return units < bins ? (int) units : 0;
    }

    /** Adds block {@code id} (its offset and size set, not in the index) and marks it idle. */
    void insert(int id) {
        count++;
        int bin = binOf(store.get(id, LEN));
        if (bin == 0) {
            treapInsert(id);
            return;
        }
        store.set(id, TAG, IN_BIN);
        smallCount++;
        if (binCounts[bin]++ == 0) {
            binBits[bin >>> 6] |= 1L << bin;
            binSummary |= 1L << (bin >>> 6);
        }
        int n = heapSizes[bin];
        long[] h = heaps[bin];
        if (h == null || 2 * n + 2 > h.length) {
            h = makeRoom(bin);
            n = heapSizes[bin];
        }
        PairHeap.push(h, n, store.get(id, OFF) >>> alignShift, id);
        heapSizes[bin] = n + 1;
        if (heapRoom > (long) SLACK * smallCount + SLACK_FIXED) {
            shrinkAll();
        }
    }

    /** Takes idle block {@code id} out (before its size changes or it is retired); its TAG is left to the caller. */
    void remove(int id) {
        count--;
        int bin = binOf(store.get(id, LEN));
        if (bin == 0) {
            treapRemove(id);
            return;
        }
        smallCount--;
        if (--binCounts[bin] == 0) {
            heapSizes[bin] = 0; // every entry left is stale
            binBits[bin >>> 6] &= ~(1L << bin);
            if (binBits[bin >>> 6] == 0) {
                binSummary &= ~(1L << (bin >>> 6));
            }
            return;
        }
        long[] h = heaps[bin];
        if (h[1] == id && h[0] == store.get(id, OFF) >>> alignShift) {
            PairHeap.pop(h, heapSizes[bin]--); // the usual case: a request took the top
        }
        // Otherwise the entry stays, stale, until it reaches the top or the bin is compacted.
    }

    /** {@return whether the entry (unit, id) of bin {@code bin} is a block in it, not a stale entry} */
    private boolean live(int bin, long unit, int id) {
        long[] f = store.fields;
        int i = id * STRIDE;
        return f[i + TAG] == IN_BIN && f[i + OFF] == unit << alignShift && f[i + LEN] == (long) bin << alignShift;
    }

    /** Makes room for one more entry in bin {@code bin}: compacts it if half stale, else grows it; returns its heap. */
    private long[] makeRoom(int bin) {
        long[] h = heaps[bin];
        int n = heapSizes[bin];
        // The block being inserted is counted, not yet in the heap.
        if (h != null && n - (binCounts[bin] - 1) >= n / 2 + 1) {
            n = compact(bin);
        }
        int needed = n + 1;
        if (h == null || 2 * needed > h.length) {
            resize(bin, Math.max(4, 2 * needed));
        }
        return heaps[bin];
    }

    private void resize(int bin, int entries) {
        long[] h = heaps[bin];
        heapRoom += entries - (h == null ? 0 : h.length >>> 1);
        heaps[bin] = h == null ? new long[2 * entries] : Arrays.copyOf(h, 2 * entries);
    }

    /** Keeps each live entry of bin {@code bin} once, in heap order; returns how many. */
    private int compact(int bin) {
        long[] h = heaps[bin];
        int n = heapSizes[bin];
        long mark = MARK | (++marks & 0xFFFF_FFFFL);
        int kept = 0;
        for (int i = 0; i < n; i++) {
            long unit = h[2 * i];
            int id = (int) h[2 * i + 1];
            if (live(bin, unit, id) && store.get(id, LINK) != mark) {
                store.set(id, LINK, mark); // a block entered twice (idle again at the same place) is kept once
                h[2 * kept] = unit;
                h[2 * kept + 1] = id;
                kept++;
            }
        }
        PairHeap.heapify(h, kept);
        heapSizes[bin] = kept;
        return kept;
    }

    /**
     * Compacts and shrinks every bin with more than SHRINK entries of room per block (plus 4), and
     * drops the heaps of empty bins: afterwards all heaps together have room for at most
     * 2 * SHRINK entries per idle block in the bins.
     */
    private void shrinkAll() {
        for (int bin = 1; bin < bins; bin++) {
            long[] h = heaps[bin];
            if (h != null && (binCounts[bin] == 0 || (h.length >>> 1) > (long) SHRINK * binCounts[bin] + 4)) {
                int kept = binCounts[bin] == 0 ? 0 : compact(bin);
                if (kept == 0) {
                    heapRoom -= h.length >>> 1;
                    heaps[bin] = null;
                    heapSizes[bin] = 0;
                } else {
                    resize(bin, kept + kept / 2 + 2);
                }
            }
        }
    }

    /** {@return the best fit for {@code n} units (n > 0): the smallest idle block that holds it, lowest first; or NIL} */
    int bestFit(long n) {
        if (n < bins) {
            int k = nextBin((int) n);
            if (k > 0) {
                long[] h = heaps[k];
                // The bin is not empty, so a live entry is left: stale ones above it go.
                while (!live(k, h[0], (int) h[1])) {
                    PairHeap.pop(h, heapSizes[k]--);
                }
                return (int) h[1];
            }
        }
        // The treap's ceiling of (n, 0), branch-free: which way a descent goes is a coin toss for
        // the CPU's predictor, and mispredictions cost more than this arithmetic.
        long bytes = n << alignShift;
        long[] f = store.fields;
        int best = NIL;
        for (int t = root; t != NIL; ) {
            int i = t * STRIDE;
            long tooSmall = (f[i + LEN] - bytes) >>> 63;
            best ^= (best ^ t) & ((int) tooSmall - 1);
            t = (int) (f[i + LINK] >> ((tooSmall ^ 1) << 5));
        }
        return best;
    }

    /** {@return the size in bytes of the largest idle block, 0 if none} */
    long largest() {
        int t = root;
        if (t != NIL) {
            for (int r = store.low(t, LINK); r != NIL; r = store.low(t, LINK)) {
                t = r;
            }
            return store.get(t, LEN);
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

    // ---- large idle blocks: a treap keyed by (size, offset), nodes are the blocks themselves ----

    // Priorities are a keyed mix of the id: random with respect to keys, yet stored nowhere.
    private int priority(int id) {
        int h = (id ^ prioritySeed) * 0x9E37_79B9;
        h ^= h >>> 16;
        h *= 0x85EB_CA6B;
        h ^= h >>> 13;
        return h;
    }

    private int leftOf(int id) {
        return store.high(id, LINK);
    }

    private int rightOf(int id) {
        return store.low(id, LINK);
    }

    private int parentOf(int id) {
        return (int) (-2 - store.get(id, TAG));
    }

    private void setParent(int id, int parent) {
        store.set(id, TAG, -2L - parent);
    }

    private boolean keyLess(long len, long off, int t) {
        long tl = store.get(t, LEN);
        return len < tl || (len == tl && off < store.get(t, OFF));
    }

    private void attach(int parent, boolean left, int child) {
        if (parent == NIL) {
            root = child;
        } else if (left) {
            store.setHigh(parent, LINK, child);
        } else {
            store.setLow(parent, LINK, child);
        }
        if (child != NIL) {
            setParent(child, parent);
        }
    }

    private void treapInsert(int x) {
        long len = store.get(x, LEN);
        long off = store.get(x, OFF);
        int px = priority(x);
        int parent = NIL;
        boolean left = false;
        int t = root;
        while (t != NIL && priority(t) > px) {
            parent = t;
            left = keyLess(len, off, t);
            t = left ? leftOf(t) : rightOf(t);
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
                    store.setHigh(rTail, LINK, t);
                    setParent(t, rTail);
                }
                rTail = t;
                t = leftOf(t);
            } else {
                if (lTail == NIL) {
                    lHead = t;
                } else {
                    store.setLow(lTail, LINK, t);
                    setParent(t, lTail);
                }
                lTail = t;
                t = rightOf(t);
            }
        }
        if (lTail != NIL) {
            store.setLow(lTail, LINK, NIL);
        }
        if (rTail != NIL) {
            store.setHigh(rTail, LINK, NIL);
        }
        store.setPair(x, LINK, lHead, rHead);
        if (lHead != NIL) {
            setParent(lHead, x);
        }
        if (rHead != NIL) {
            setParent(rHead, x);
        }
        attach(parent, left, x);
    }

    private void treapRemove(int x) {
        int parent = parentOf(x);
        // Replace x by the merge of its subtrees, hung where x hung.
        boolean left = parent != NIL && leftOf(parent) == x;
        int a = leftOf(x);
        int b = rightOf(x);
        while (a != NIL && b != NIL) {
            if (priority(a) > priority(b)) {
                attach(parent, left, a);
                parent = a;
                left = false;
                a = rightOf(a);
            } else {
                attach(parent, left, b);
                parent = b;
                left = true;
                b = leftOf(b);
            }
        }
        attach(parent, left, a != NIL ? a : b);
    }

    // ---- invariant checks ----

    /**
     * Checks that the index holds exactly the {@code idle} idle blocks among the live ids
     * ({@code live[id]}), each where its size says, in the right order, with the bins' bitmaps,
     * counts and heaps consistent.
     *
     * @throws IllegalStateException naming the first violation
     */
    void check(boolean[] live, int idle) {
        BlockAllocator.check(count == idle, "idle index counts " + count + " blocks, but " + idle + " are idle");
        int nodes = checkTreap(live);
        int[] perBin = new int[bins];
        int members = 0;
        for (int id = 0; id < live.length; id++) {
            if (live[id] && store.isIdle(id)) {
                int bin = binOf(store.get(id, LEN));
                if (bin > 0) {
                    BlockAllocator.check(store.get(id, TAG) == IN_BIN, "block at " + store.get(id, OFF) + " is not marked as in its bin");
                    perBin[bin]++;
                    members++;
                }
            }
        }
        boolean[] seen = new boolean[live.length];
        long room = 0;
        for (int bin = 1; bin < bins; bin++) {
            int c = binCounts[bin];
            BlockAllocator.check(c == perBin[bin], "bin " + bin + " counts " + c + " blocks, but " + perBin[bin] + " idle blocks have its size");
            boolean bit = (binBits[bin >>> 6] & (1L << bin)) != 0;
            BlockAllocator.check(bit == (c > 0), "bin " + bin + " emptiness disagrees with its bitmap bit");
            long[] h = heaps[bin];
            int n = heapSizes[bin];
            room += h == null ? 0 : h.length >>> 1;
            BlockAllocator.check(n == 0 || (h != null && 2 * n <= h.length), "bin " + bin + " holds more entries than its room");
            BlockAllocator.check(PairHeap.isHeap(h, n), "bin " + bin + "'s heap is out of order");
            int found = 0;
            for (int i = 0; i < n; i++) {
                int id = (int) h[2 * i + 1];
                BlockAllocator.check(id >= 0 && id < store.idLimit(), "bin " + bin + " holds a bad block id " + id);
                if (id < live.length && live[id] && !seen[id] && live(bin, h[2 * i], id)) {
                    seen[id] = true;
                    found++;
                }
            }
            BlockAllocator.check(found == c, "bin " + bin + "'s heap finds " + found + " of its " + c + " blocks");
        }
        BlockAllocator.check(room == heapRoom, "the bins' room is miscounted");
        BlockAllocator.check(members == smallCount, "the bins count " + smallCount + " blocks, but " + members + " are idle and small");
        BlockAllocator.check(nodes + members == idle,
                "idle index holds " + (nodes + members) + " blocks, but " + idle + " are idle");
        for (int w = 0; w < binBits.length; w++) {
            BlockAllocator.check((binSummary & (1L << w)) != 0 == (binBits[w] != 0), "bin summary word " + w + " is wrong");
        }
        BlockAllocator.check(binSummary >>> binBits.length == 0 || binBits.length == 64, "bin summary has stray bits");
        BlockAllocator.check((binBits[0] & 1) == 0, "bin 0 is marked non-empty");
    }

    /** {@return how many entries, live or stale, bin {@code bin}'s heap holds, and its room, for tests} */
    int[] heapShape(int bin) {
        return new int[] {heapSizes[bin], heaps[bin] == null ? 0 : heaps[bin].length >>> 1};
    }

    /** Walks the treap in order: keys strictly increase, priorities never exceed the parent's; returns its nodes. */
    private int checkTreap(boolean[] live) {
        int nodes = 0;
        int[] stack = new int[64];
        int t = root;
        BlockAllocator.check(t == NIL || (t >= 0 && t < live.length && parentOf(t) == NIL), "bad treap root " + t);
        int depth = 0;
        long lastLen = -1;
        long lastOff = -1;
        while (t != NIL || depth > 0) {
            while (t != NIL) {
                BlockAllocator.check(t >= 0 && t < live.length && live[t], "idle index holds a dead block id " + t);
                BlockAllocator.check(store.isIdle(t), "idle index holds the in-use block at " + store.get(t, OFF));
                BlockAllocator.check(binOf(store.get(t, LEN)) == 0, "block at " + store.get(t, OFF) + " belongs in a bin");
                BlockAllocator.check(++nodes <= count, "treap holds more nodes than there are idle blocks");
                if (depth == stack.length) {
                    stack = Arrays.copyOf(stack, 2 * depth);
                }
                stack[depth++] = t;
                int l = leftOf(t);
                BlockAllocator.check(l == NIL || priority(l) <= priority(t), "treap heap order broken at " + store.get(t, OFF));
                BlockAllocator.check(l == NIL || parentOf(l) == t, "wrong treap parent link at " + store.get(t, OFF));
                t = l;
            }
            t = stack[--depth];
            long len = store.get(t, LEN);
            long off = store.get(t, OFF);
            BlockAllocator.check(len > lastLen || (len == lastLen && off > lastOff), "treap out of order at " + off);
            lastLen = len;
            lastOff = off;
            int r = rightOf(t);
            BlockAllocator.check(r == NIL || priority(r) <= priority(t), "treap heap order broken at " + off);
            BlockAllocator.check(r == NIL || parentOf(r) == t, "wrong treap parent link at " + off);
            t = r;
        }
        return nodes;
    }
}
