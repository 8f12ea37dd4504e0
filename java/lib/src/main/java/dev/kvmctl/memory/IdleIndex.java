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
 * fits with two bit scans, and each bin caches its lowest offset, so best fit for a small
 * request is O(1). Each bin's blocks are kept in address order by a bitmap of their offsets: a
 * 64-way trie of 64-bit words, one word per non-empty node, stored in a {@link LongMap} keyed by
 * (offset prefix, level, bin). Adding or removing a block sets or clears one bit, and touches the
 * levels above only when a word becomes non-zero or zero; the next-lowest block after the cached
 * one is a scan of the same word in the common case. A bin of one block keeps it in its lowest
 * offset alone, with no trie: small regions, whose bins are mostly empty or single, pay no probes. There is no tree walk and no comparison of
 * keys: at a million blocks, every step down a search tree is a dependent cache miss.
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
    /** The trie's keys pack the offset prefix above 16 bits, so bins need regions of fewer units. */
    private static final int MAX_UNIT_BITS = 53;

    private final BlockStore store;
    private final OffsetIndex offsets;
    private final int alignShift;
    private final int prioritySeed;
    /** Sizes 1 to bins - 1 (in units) have bins; larger blocks go to the treap. */
    final int bins;
    /** The trie's depth: 64^levels covers every unit of the region. */
    private final int levels;
    /**
     * The lowest offset (in units) of each bin, -1 when empty. Units, not block ids: an insert
     * compares with it without reading the current lowest block, which at a million blocks is
     * a cache miss; the id is looked up only when a request takes the block.
     */
    private final long[] mins;
    /** The id of the block at each bin's lowest offset, or NIL when not known yet: looked up once, when first needed. */
    private final int[] minIds;
    /** How many blocks each bin holds: an emptied bin needs no search for its next-lowest block. */
    private final int[] binCounts;
    /** Each bin's top trie word, the one over the whole region, kept out of the map: one probe less per change. */
    private final long[] topWords;
    /** Bit k set when bin k is non-empty, plus a summary bit per word. */
    private final long[] binBits;
    private long binSummary;
    /** Words of every bin's offset trie below the top level. */
    private final LongMap trie = new LongMap();
    private int root = NIL;
    private int count;

    /**
     * An empty index for a region of {@code units} alignment units, with at most {@code maxBins}
     * (1 to {@link #MAX_BINS}) bins; 1 means none (every idle block in the treap).
     */
    IdleIndex(BlockStore store, OffsetIndex offsets, long units, int alignShift, int maxBins) {
        this.store = store;
        this.offsets = offsets;
        this.alignShift = alignShift;
        this.prioritySeed = new SplittableRandom().nextInt();
        // No bin can hold a block larger than the region; absurdly many units get no bins at all.
        this.bins = units >= 1L << MAX_UNIT_BITS ? 1 : (int) Math.min(maxBins, units + 1);
        int unitBits = 64 - Long.numberOfLeadingZeros(Math.max(0, units - 1));
        this.levels = Math.max(1, (unitBits + 5) / 6);
        this.mins = new long[bins];
        Arrays.fill(mins, -1);
        this.minIds = new int[bins];
        Arrays.fill(minIds, NIL);
        this.binCounts = new int[bins];
        this.topWords = new long[bins];
        this.binBits = new long[(bins + 63) >>> 6];
    }

    /** {@return how many idle blocks the index holds} */
    int count() {
        return count;
    }

    /** {@return the heap bytes of the bins and the trie} */
    long footprintBytes() {
        return 8L * mins.length + 4L * minIds.length + 4L * binCounts.length + 8L * topWords.length + 8L * binBits.length + trie.footprintBytes();
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
        store.set(id, TAG, -1);
        long unit = store.get(id, OFF) >>> alignShift;
        int before = binCounts[bin]++;
        if (before == 0) {
            // A bin of one block needs no trie: its lowest offset says where the block is.
            mins[bin] = unit;
            minIds[bin] = id;
            binBits[bin >>> 6] |= 1L << bin;
            binSummary |= 1L << (bin >>> 6);
            return;
        }
        if (before == 1) {
            trieAdd(bin, mins[bin]); // the lone block joins the trie
        }
        trieAdd(bin, unit);
        if (unit < mins[bin]) {
            mins[bin] = unit;
            minIds[bin] = id;
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
        int left = --binCounts[bin];
        if (left == 0) {
            mins[bin] = -1; // it was alone, so not in the trie
            minIds[bin] = NIL;
            binBits[bin >>> 6] &= ~(1L << bin);
            if (binBits[bin >>> 6] == 0) {
                binSummary &= ~(1L << (bin >>> 6));
            }
            return;
        }
        long unit = store.get(id, OFF) >>> alignShift;
        trieRemove(bin, unit);
        if (mins[bin] == unit) {
            mins[bin] = ceiling(bin, unit + 1);
            minIds[bin] = NIL; // looked up if a request takes it
        }
        if (left == 1) {
            trieRemove(bin, mins[bin]); // the last block leaves the trie
        }
    }

    /** {@return the best fit for {@code n} units (n > 0): the smallest idle block that holds it, lowest first; or NIL} */
    int bestFit(long n) {
        if (n < bins) {
            int k = nextBin((int) n);
            if (k > 0) {
                int id = minIds[k];
                if (id == NIL) {
                    id = offsets.blockAt(mins[k] << alignShift);
                    minIds[k] = id;
                }
                return id;
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

    // ---- each bin's offsets: a 64-way bitmap trie, one LongMap entry per non-zero word ----

    /** The key of the word at {@code level} that covers {@code unit} in bin {@code bin}. */
    private static long key(int bin, int level, long unit) {
        return ((unit >>> (6 * level + 6)) << 16) | ((long) level << 12) | bin;
    }

    private void trieAdd(int bin, long unit) {
        int top = levels - 1;
        for (int level = 0; level < top; level++) {
            long bit = 1L << (unit >>> (6 * level));
            long k = key(bin, level, unit);
            int slot = trie.slotOf(k);
            if (slot >= 0) {
                trie.setValueAt(slot, trie.valueAt(slot) | bit);
                return; // the word was non-zero, so the levels above already lead to it
            }
            trie.putNew(k, bit);
        }
        topWords[bin] |= 1L << (unit >>> (6 * top));
    }

    private void trieRemove(int bin, long unit) {
        int top = levels - 1;
        for (int level = 0; level < top; level++) {
            int slot = trie.slotOf(key(bin, level, unit));
            long word = trie.valueAt(slot) & ~(1L << (unit >>> (6 * level)));
            if (word != 0) {
                trie.setValueAt(slot, word);
                return;
            }
            trie.removeSlot(slot); // the word is empty: clear its bit one level up
        }
        topWords[bin] &= ~(1L << (unit >>> (6 * top)));
    }

    /** {@return the word at {@code level} that covers {@code unit} in bin {@code bin}, 0 if none} */
    private long word(int bin, int level, long unit) {
        if (level == levels - 1) {
            return unit >>> (6 * level + 6) == 0 ? topWords[bin] : 0;
        }
        return trie.get(key(bin, level, unit), 0);
    }

    /** {@return the lowest unit at or above {@code from} where a block of bin {@code bin} starts, or -1} */
    long ceiling(int bin, long from) {
        for (int level = 0; level < levels; level++) {
            int shift = 6 * level;
            long word = word(bin, level, from) & (-1L << (from >>> shift));
            if (word != 0) {
                long prefix = ((from >>> shift >>> 6) << 6) | Long.numberOfTrailingZeros(word);
                for (int down = level - 1; down >= 0; down--) {
                    long w = word(bin, down, prefix << (6 * down + 6));
                    prefix = (prefix << 6) | Long.numberOfTrailingZeros(w);
                }
                return prefix;
            }
            // Nothing left in this word: go on from the start of the next one, one level up.
            from = ((from >>> shift >>> 6) + 1) << (shift + 6);
            if (from >>> (shift + 6) == 0) {
                return -1; // wrapped past the top
            }
        }
        return -1;
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
     * cached minima and tries consistent.
     *
     * @throws IllegalStateException naming the first violation
     */
    void check(boolean[] live, int idle) {
        BlockAllocator.check(count == idle, "idle index counts " + count + " blocks, but " + idle + " are idle");
        int nodes = checkTreap(live);
        int members = checkTrie(live);
        for (int bin = 1; bin < bins; bin++) {
            int c = binCounts[bin];
            boolean bit = (binBits[bin >>> 6] & (1L << bin)) != 0;
            BlockAllocator.check(bit == (c > 0), "bin " + bin + " emptiness disagrees with its bitmap bit");
            BlockAllocator.check(minIds[bin] == NIL || (c > 0 && minIds[bin] == offsets.blockAt(mins[bin] << alignShift)),
                    "bin " + bin + " remembers a wrong id for its lowest block");
            if (c == 1) {
                BlockAllocator.check(topWords[bin] == 0, "bin " + bin + " of one block has a trie");
                int id = mins[bin] < 0 ? NIL : offsets.blockAt(mins[bin] << alignShift);
                BlockAllocator.check(id >= 0 && id < live.length && live[id] && store.isIdle(id) && binOf(store.get(id, LEN)) == bin,
                        "bin " + bin + "'s one block is not an idle block of its size");
                members++;
            } else {
                BlockAllocator.check(mins[bin] == ceiling(bin, 0), "bin " + bin + " has a wrong lowest block");
                BlockAllocator.check(c == countBin(bin), "bin " + bin + " miscounts its blocks");
            }
        }
        BlockAllocator.check(nodes + members == idle,
                "idle index holds " + (nodes + members) + " blocks, but " + idle + " are idle");
        for (int w = 0; w < binBits.length; w++) {
            BlockAllocator.check((binSummary & (1L << w)) != 0 == (binBits[w] != 0), "bin summary word " + w + " is wrong");
        }
        BlockAllocator.check(binSummary >>> binBits.length == 0 || binBits.length == 64, "bin summary has stray bits");
        BlockAllocator.check((binBits[0] & 1) == 0, "bin 0 is marked non-empty");
    }

    private int countBin(int bin) {
        int n = 0;
        for (long u = ceiling(bin, 0); u >= 0; u = ceiling(bin, u + 1)) {
            n++;
        }
        return n;
    }

    /** Every trie word is non-zero, linked from above and leading below; returns the blocks at level 0. */
    private int checkTrie(boolean[] live) {
        int members = 0;
        for (int slot = 0; slot < trie.capacity(); slot++) {
            long k = trie.keyAt(slot);
            if (k < 0) {
                continue;
            }
            long word = trie.valueAt(slot);
            int bin = (int) (k & 0xFFF);
            int level = (int) (k >>> 12) & 0xF;
            long prefix = k >>> 16;
            BlockAllocator.check(bin > 0 && bin < bins && level < levels - 1 && word != 0, "bad trie word " + Long.toHexString(k));
            long up = word(bin, level + 1, prefix << (6 * level + 6));
            BlockAllocator.check((up & (1L << prefix)) != 0, "trie word " + Long.toHexString(k) + " is not linked from above");
            members += checkWord(live, bin, level, prefix, word);
        }
        for (int bin = 0; bin < bins; bin++) {
            BlockAllocator.check(bin > 0 || topWords[0] == 0, "bin 0 has a trie");
            members += checkWord(live, bin, levels - 1, 0, topWords[bin]);
        }
        return members;
    }

    /** Checks that each bit of a trie word leads to a word below, or at level 0 to an idle block of the bin; returns those blocks. */
    private int checkWord(boolean[] live, int bin, int level, long prefix, long word) {
        int members = 0;
        for (long bits = word; bits != 0; bits &= bits - 1) {
            long below = (prefix << 6) | Long.numberOfTrailingZeros(bits);
            if (level > 0) {
                BlockAllocator.check(trie.slotOf(key(bin, level - 1, below << (6 * level))) >= 0,
                        "bin " + bin + "'s trie leads to a missing word at level " + (level - 1));
                continue;
            }
            int id = offsets.blockAt(below << alignShift);
            BlockAllocator.check(id >= 0 && id < live.length && live[id] && store.isIdle(id),
                    "bin " + bin + " holds unit " + below + ", where no idle block starts");
            BlockAllocator.check(binOf(store.get(id, LEN)) == bin, "block at " + (below << alignShift) + " is in the wrong bin " + bin);
            members++;
        }
        return members;
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
