package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockTable.KEY;
import static dev.kvmctl.memory.BlockTable.LEN;
import static dev.kvmctl.memory.BlockTable.TAG;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The idle blocks of a {@link BlockTable}, ordered for best fit: the smallest idle block of at
 * least n units, the lowest addressed among equals. Blocks are named by their record index in the
 * table (valid until the table's next removal or growth) and kept by their start unit.
 *
 * <p>Small blocks (fewer than {@code bins} units, 4096 at most: 256 KiB at 64 bytes) sit in one
 * <em>bin</em> per exact size. A two-level bitmap of the non-empty bins finds the first bin that
 * fits with two bit scans. Each bin is a min-heap of start units ({@link UnitHeap}, 8 bytes an
 * entry), so its top is its lowest-addressed block. Removal is lazy: a block that leaves a bin
 * (merged, taken from below the top) only lowers the bin's count, and its entry stays behind, stale,
 * until it reaches the top, where a look at the table (does an idle block of this bin's size start
 * there?) tells it apart and drops it, or until the bin is compacted. That look is the read a
 * request makes anyway to take the block, so a merge costs the bins nothing and an insert is
 * usually one comparison at the bottom.
 *
 * <p>Stale entries are bounded: a bin whose heap is full and at least half stale is compacted (its
 * live entries kept once each, sorted, which is heap order) before it grows, a bin whose count drops
 * to 0 drops its entries at once, and when all heaps together hold more than {@value #SLACK} times
 * the idle blocks plus {@value #SLACK_FIXED} entries, every bin with more than {@value #SHRINK}
 * times its count is compacted and shrunk.
 *
 * <p>Large blocks (rare: they are split as soon as a small request takes their front) sit in one
 * treap ordered by (size, start) whose nodes live in an array of their own (records move in the
 * table; nodes do not); a large block's {@code TAG} names its node ({@code -2 - node}), so a merge
 * takes it out without a search. Priorities are a keyed mix of the node number with a per-instance
 * random seed: no memory, and no request sequence can unbalance the tree on purpose; answers never
 * depend on the seed.
 */
final class IdleIndex {
    /** Sizes below this many units get an exact-size bin. */
    static final int MAX_BINS = 4096;
    /** All heaps together hold at most this many entries per idle block in the bins ... */
    static final int SLACK = 8;
    /** ... plus this many. */
    static final int SLACK_FIXED = 4096;
    /** ... beyond which bins holding more than this many entries per block are compacted. */
    static final int SHRINK = 2;
    /** The TAG of an idle block in a bin. */
    static final long IN_BIN = -1;
    /** No node. */
    private static final int NIL = -1;
    /** A node's fields: size and start in units, children (left high, right low), parent (or next free). */
    private static final int N_LEN = 0;
    private static final int N_UNIT = 1;
    private static final int N_KIDS = 2;
    private static final int N_UP = 3;
    private static final int N_STRIDE = 4;
    private static final long LOW = 0xFFFF_FFFFL;

    private final BlockTable table;
    private final int prioritySeed;
    /** Sizes 1 to bins - 1 (in units) have bins; larger blocks go to the treap. */
    final int bins;
    /** Each bin's heap of start units, null until used. */
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
    private int count;
    /** The treap's nodes, N_STRIDE longs each; freed ones are chained through N_UP. */
    private long[] nodes = new long[4 * N_STRIDE];
    private int nodeLimit;
    private int freeNode = NIL;
    private int root = NIL;

    /**
     * An empty index over {@code table} for a region of {@code units} units, with at most
     * {@code maxBins} (1 to {@link #MAX_BINS}) bins; 1 means none (every idle block in the treap).
     */
    IdleIndex(BlockTable table, long units, int maxBins) {
        this.table = table;
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

    /** {@return the heap bytes of the bins (8 per reference to a bin's heap), their heaps and the treap's nodes} */
    long footprintBytes() {
        return 8L * heaps.length + 8L * heapRoom + 4L * heapSizes.length + 4L * binCounts.length + 8L * binBits.length
                + 8L * nodes.length;
    }

    private int binOf(long len) {
        return len < bins ? (int) len : 0;
    }

    /** Adds the block at record {@code r} (start and size set, not in the index) and marks it idle. */
    void insert(int r) {
        count++;
        long[] rec = table.rec;
        long len = rec[r + LEN];
        int bin = binOf(len);
        if (bin == 0) {
            rec[r + TAG] = -2L - treapInsert(len, rec[r + KEY]);
            return;
        }
        rec[r + TAG] = IN_BIN;
        smallCount++;
        if (binCounts[bin]++ == 0) {
            binBits[bin >>> 6] |= 1L << bin;
            binSummary |= 1L << (bin >>> 6);
        }
        int n = heapSizes[bin];
        long[] h = heaps[bin];
        if (h == null || n == h.length) {
            h = makeRoom(bin);
            n = heapSizes[bin];
        }
        UnitHeap.push(h, n, rec[r + KEY]);
        heapSizes[bin] = n + 1;
        if (heapRoom > (long) SLACK * smallCount + SLACK_FIXED) {
            shrinkAll();
        }
    }

    /** Takes the idle block at record {@code r} out (before its size changes or it leaves the table); its TAG is left to the caller. */
    void remove(int r) {
        count--;
        long[] rec = table.rec;
        long tag = rec[r + TAG];
        if (tag != IN_BIN) {
            treapRemove((int) (-2 - tag));
            return;
        }
        int bin = (int) rec[r + LEN];
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
        if (h[0] == rec[r + KEY]) {
            UnitHeap.pop(h, heapSizes[bin]--); // the usual case: a request took the top
        }
        // Otherwise the entry stays, stale, until it reaches the top or the bin is compacted.
    }

    /** {@return the record of the idle block of bin {@code bin} that starts at {@code unit}, or -1 if the entry is stale} */
    private int live(int bin, long unit) {
        int r = table.find(unit);
        if (r >= 0) {
            long[] rec = table.rec;
            if (rec[r + TAG] == IN_BIN && rec[r + LEN] == bin) {
                return r;
            }
        }
        return -1;
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
        if (h == null || needed > h.length) {
            resize(bin, Math.max(4, 2 * needed));
        }
        return heaps[bin];
    }

    private void resize(int bin, int entries) {
        long[] h = heaps[bin];
        heapRoom += entries - (h == null ? 0 : h.length);
        heaps[bin] = h == null ? new long[entries] : Arrays.copyOf(h, entries);
    }

    /** Keeps each live entry of bin {@code bin} once, sorted (so in heap order); returns how many. */
    private int compact(int bin) {
        long[] h = heaps[bin];
        int distinct = liveEntries(bin, h, heapSizes[bin], h);
        heapSizes[bin] = distinct;
        return distinct;
    }

    /**
     * Writes each live entry of {@code from[0, n)} (bin {@code bin}'s heap) once, sorted, to
     * {@code into}, which may be {@code from} itself; returns how many. A block that left and came
     * back at the same place has two entries: one is kept.
     */
    private int liveEntries(int bin, long[] from, int n, long[] into) {
        int kept = 0;
        for (int i = 0; i < n; i++) {
            if (live(bin, from[i]) >= 0) {
                into[kept++] = from[i];
            }
        }
        Arrays.sort(into, 0, kept);
        int distinct = 0;
        for (int i = 0; i < kept; i++) {
            if (distinct == 0 || into[distinct - 1] != into[i]) {
                into[distinct++] = into[i];
            }
        }
        return distinct;
    }

    /**
     * Compacts and shrinks every bin with more than SHRINK entries of room per block (plus 4), and
     * drops the heaps of empty bins: afterwards all heaps together have room for at most
     * 2 * SHRINK entries per idle block in the bins.
     */
    private void shrinkAll() {
        for (int bin = 1; bin < bins; bin++) {
            long[] h = heaps[bin];
            if (h != null && (binCounts[bin] == 0 || h.length > (long) SHRINK * binCounts[bin] + 4)) {
                int kept = binCounts[bin] == 0 ? 0 : compact(bin);
                if (kept == 0) {
                    heapRoom -= h.length;
                    heaps[bin] = null;
                    heapSizes[bin] = 0;
                } else {
                    resize(bin, kept + kept / 2 + 2);
                }
            }
        }
    }

    /**
     * {@return the record of the best fit for {@code n} units (n > 0): the smallest idle block that
     * holds it, lowest first; or -1}
     */
    int bestFit(long n) {
        if (n < bins) {
            int k = nextBin((int) n);
            if (k > 0) {
                long[] h = heaps[k];
                // The bin is not empty, so a live entry is left: stale ones above it go.
                while (true) {
                    int r = live(k, h[0]);
                    if (r >= 0) {
                        return r;
                    }
                    UnitHeap.pop(h, heapSizes[k]--);
                }
            }
        }
        // The treap's ceiling of (n, 0), branch-free: which way a descent goes is a coin toss for
        // the CPU's predictor, and mispredictions cost more than this arithmetic.
        long[] f = nodes;
        int best = NIL;
        for (int t = root; t != NIL; ) {
            int i = t * N_STRIDE;
            long tooSmall = (f[i + N_LEN] - n) >>> 63;
            best ^= (best ^ t) & ((int) tooSmall - 1);
            t = (int) (f[i + N_KIDS] >> ((tooSmall ^ 1) << 5));
        }
        return best == NIL ? -1 : table.find(f[best * N_STRIDE + N_UNIT]);
    }

    /** {@return the size in units of the largest idle block, 0 if none} */
    long largest() {
        int t = root;
        if (t != NIL) {
            for (int r = rightOf(t); r != NIL; r = rightOf(t)) {
                t = r;
            }
            return nodes[t * N_STRIDE + N_LEN];
        }
        if (binSummary == 0) {
            return 0;
        }
        int w = 63 - Long.numberOfLeadingZeros(binSummary);
        return (long) (w << 6) + 63 - Long.numberOfLeadingZeros(binBits[w]);
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

    // ---- large idle blocks: a treap keyed by (size, start) ----

    // Priorities are a keyed mix of the node number: random with respect to keys, yet stored nowhere.
    private int priority(int node) {
        int h = (node ^ prioritySeed) * 0x9E37_79B9;
        h ^= h >>> 16;
        h *= 0x85EB_CA6B;
        h ^= h >>> 13;
        return h;
    }

    private int newNode(long len, long unit) {
        int x = freeNode;
        if (x != NIL) {
            freeNode = (int) nodes[x * N_STRIDE + N_UP];
        } else {
            if ((nodeLimit + 1) * N_STRIDE > nodes.length) {
                // Nodes never outnumber the idle blocks (at most one per two units), so neither does this array.
                nodes = Arrays.copyOf(nodes, 2 * nodes.length);
            }
            x = nodeLimit++;
        }
        nodes[x * N_STRIDE + N_LEN] = len;
        nodes[x * N_STRIDE + N_UNIT] = unit;
        return x;
    }

    private void freeNode(int x) {
        nodes[x * N_STRIDE + N_UP] = freeNode;
        nodes[x * N_STRIDE + N_LEN] = -1;
        freeNode = x;
    }

    private int leftOf(int x) {
        return (int) (nodes[x * N_STRIDE + N_KIDS] >> 32);
    }

    private int rightOf(int x) {
        return (int) nodes[x * N_STRIDE + N_KIDS];
    }

    private void setLeft(int x, int child) {
        int i = x * N_STRIDE + N_KIDS;
        nodes[i] = ((long) child << 32) | (nodes[i] & LOW);
    }

    private void setRight(int x, int child) {
        int i = x * N_STRIDE + N_KIDS;
        nodes[i] = (nodes[i] & ~LOW) | (child & LOW);
    }

    private int parentOf(int x) {
        return (int) nodes[x * N_STRIDE + N_UP];
    }

    private void setParent(int x, int parent) {
        nodes[x * N_STRIDE + N_UP] = parent;
    }

    private boolean keyLess(long len, long unit, int t) {
        long tl = nodes[t * N_STRIDE + N_LEN];
        return len < tl || (len == tl && unit < nodes[t * N_STRIDE + N_UNIT]);
    }

    private void attach(int parent, boolean left, int child) {
        if (parent == NIL) {
            root = child;
        } else if (left) {
            setLeft(parent, child);
        } else {
            setRight(parent, child);
        }
        if (child != NIL) {
            setParent(child, parent);
        }
    }

    /** Adds a node for the idle block of {@code len} units at {@code unit}; returns it. */
    private int treapInsert(long len, long unit) {
        int x = newNode(len, unit);
        int px = priority(x);
        int parent = NIL;
        boolean left = false;
        int t = root;
        while (t != NIL && priority(t) > px) {
            parent = t;
            left = keyLess(len, unit, t);
            t = left ? leftOf(t) : rightOf(t);
        }
        // Split the subtree at t around x: smaller keys become x's left subtree, larger its right.
        int lHead = NIL;
        int lTail = NIL;
        int rHead = NIL;
        int rTail = NIL;
        while (t != NIL) {
            if (keyLess(len, unit, t)) {
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
        nodes[x * N_STRIDE + N_KIDS] = ((long) lHead << 32) | (rHead & LOW);
        if (lHead != NIL) {
            setParent(lHead, x);
        }
        if (rHead != NIL) {
            setParent(rHead, x);
        }
        attach(parent, left, x);
        return x;
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
        freeNode(x);
    }

    // ---- invariant checks ----

    /**
     * Checks that the index holds exactly the table's {@code idle} idle blocks, each where its size
     * says, in the right order, with the bins' bitmaps, counts and heaps and the treap consistent.
     *
     * @throws IllegalStateException naming the first violation
     */
    void check(int idle) {
        BlockAllocator.check(count == idle, "idle index counts " + count + " blocks, but " + idle + " are idle");
        int[] perBin = new int[bins];
        int members = 0;
        int large = 0;
        long[] rec = table.rec;
        for (int r = 0; r < rec.length; r += BlockTable.STRIDE) {
            if (rec[r + KEY] == BlockTable.EMPTY || rec[r + TAG] >= 0) {
                continue;
            }
            int bin = binOf(rec[r + LEN]);
            String where = "idle block at unit " + rec[r + KEY];
            if (bin > 0) {
                BlockAllocator.check(rec[r + TAG] == IN_BIN, where + " is not marked as in its bin");
                perBin[bin]++;
                members++;
            } else {
                long node = -2 - rec[r + TAG];
                BlockAllocator.check(node >= 0 && node < nodeLimit && nodes[(int) node * N_STRIDE + N_LEN] == rec[r + LEN]
                        && nodes[(int) node * N_STRIDE + N_UNIT] == rec[r + KEY], where + " does not name its tree node");
                large++;
            }
        }
        int treeNodes = checkTreap();
        BlockAllocator.check(treeNodes == large, "the tree holds " + treeNodes + " nodes for " + large + " large idle blocks");
        long room = 0;
        for (int bin = 1; bin < bins; bin++) {
            int c = binCounts[bin];
            BlockAllocator.check(c == perBin[bin], "bin " + bin + " counts " + c + " blocks, but " + perBin[bin] + " idle blocks have its size");
            boolean bit = (binBits[bin >>> 6] & (1L << bin)) != 0;
            BlockAllocator.check(bit == (c > 0), "bin " + bin + " emptiness disagrees with its bitmap bit");
            long[] h = heaps[bin];
            int n = heapSizes[bin];
            room += h == null ? 0 : h.length;
            BlockAllocator.check(n == 0 || (h != null && n <= h.length), "bin " + bin + " holds more entries than its room");
            BlockAllocator.check(UnitHeap.isHeap(h, n), "bin " + bin + "'s heap is out of order");
            int distinct = liveEntries(bin, h, n, new long[n]);
            BlockAllocator.check(distinct == c, "bin " + bin + "'s heap finds " + distinct + " of its " + c + " blocks");
        }
        BlockAllocator.check(room == heapRoom, "the bins' room is miscounted");
        BlockAllocator.check(members == smallCount, "the bins count " + smallCount + " blocks, but " + members + " are idle and small");
        for (int w = 0; w < binBits.length; w++) {
            BlockAllocator.check((binSummary & (1L << w)) != 0 == (binBits[w] != 0), "bin summary word " + w + " is wrong");
        }
        BlockAllocator.check(binSummary >>> binBits.length == 0 || binBits.length == 64, "bin summary has stray bits");
        BlockAllocator.check((binBits[0] & 1) == 0, "bin 0 is marked non-empty");
    }

    /** {@return how many entries, live or stale, bin {@code bin}'s heap holds, and its room, for tests} */
    int[] heapShape(int bin) {
        return new int[] {heapSizes[bin], heaps[bin] == null ? 0 : heaps[bin].length};
    }

    /** Walks the treap in order: keys strictly increase, priorities never exceed the parent's, each node's block is in the table; returns its nodes. */
    private int checkTreap() {
        int nodeCount = 0;
        int[] stack = new int[64];
        int t = root;
        BlockAllocator.check(t == NIL || (t >= 0 && t < nodeLimit && parentOf(t) == NIL), "bad treap root " + t);
        int depth = 0;
        long lastLen = -1;
        long lastUnit = -1;
        while (t != NIL || depth > 0) {
            while (t != NIL) {
                BlockAllocator.check(t >= 0 && t < nodeLimit && nodes[t * N_STRIDE + N_LEN] >= 0, "the tree reaches a bad node " + t);
                BlockAllocator.check(++nodeCount <= count, "treap holds more nodes than there are idle blocks");
                int r = table.find(nodes[t * N_STRIDE + N_UNIT]);
                BlockAllocator.check(r >= 0 && table.rec[r + TAG] == -2L - t, "tree node " + t + " names no idle block that names it");
                BlockAllocator.check(binOf(nodes[t * N_STRIDE + N_LEN]) == 0, "block at unit " + nodes[t * N_STRIDE + N_UNIT] + " belongs in a bin");
                if (depth == stack.length) {
                    stack = Arrays.copyOf(stack, 2 * depth);
                }
                stack[depth++] = t;
                int l = leftOf(t);
                BlockAllocator.check(l == NIL || priority(l) <= priority(t), "treap heap order broken at node " + t);
                BlockAllocator.check(l == NIL || parentOf(l) == t, "wrong treap parent link at node " + t);
                t = l;
            }
            t = stack[--depth];
            long len = nodes[t * N_STRIDE + N_LEN];
            long unit = nodes[t * N_STRIDE + N_UNIT];
            BlockAllocator.check(len > lastLen || (len == lastLen && unit > lastUnit), "treap out of order at unit " + unit);
            lastLen = len;
            lastUnit = unit;
            int r = rightOf(t);
            BlockAllocator.check(r == NIL || priority(r) <= priority(t), "treap heap order broken at node " + t);
            BlockAllocator.check(r == NIL || parentOf(r) == t, "wrong treap parent link at node " + t);
            t = r;
        }
        return nodeCount;
    }
}
