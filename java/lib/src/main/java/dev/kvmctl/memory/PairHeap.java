package dev.kvmctl.memory;

/**
 * A 4-ary min-heap of (key, value) pairs kept in a caller's {@code long[]}: entry i's key at
 * {@code 2i}, its value at {@code 2i + 1}; the caller keeps the size and the room. Four children of
 * 16 bytes fill one cache line, so a descent touches half as many lines as in a binary heap, and the
 * top levels, which every operation reads, stay in cache. An insert of a key larger than most (the
 * common case for {@link IdleIndex}, whose bins are drained from their lowest address) stops at
 * the bottom after one comparison. Equal keys are allowed; their order is unspecified.
 */
final class PairHeap {
    private PairHeap() {}

    /** Adds (key, value) to the heap of {@code size} entries in {@code h}, which has room for one more. */
    static void push(long[] h, int size, long key, long value) {
        int i = size;
        while (i > 0) {
            int p = (i - 1) >>> 2;
            long pk = h[2 * p];
            if (pk <= key) {
                break;
            }
            h[2 * i] = pk;
            h[2 * i + 1] = h[2 * p + 1];
            i = p;
        }
        h[2 * i] = key;
        h[2 * i + 1] = value;
    }

    /** Removes the entry with the smallest key from the heap of {@code size} (1 or more) entries in {@code h}. */
    static void pop(long[] h, int size) {
        int n = size - 1;
        siftDown(h, n, 0, h[2 * n], h[2 * n + 1]);
    }

    /** Puts (key, value) at or below position {@code i} of the heap of {@code n} entries, whose subtrees below i are heaps. */
    private static void siftDown(long[] h, int n, int i, long key, long value) {
        while (true) {
            int c = 4 * i + 1;
            if (c >= n) {
                break;
            }
            int end = Math.min(c + 4, n);
            int m = c;
            long mk = h[2 * c];
            for (int j = c + 1; j < end; j++) {
                long k = h[2 * j];
                if (k < mk) {
                    mk = k;
                    m = j;
                }
            }
            if (mk >= key) {
                break;
            }
            h[2 * i] = mk;
            h[2 * i + 1] = h[2 * m + 1];
            i = m;
        }
        h[2 * i] = key;
        h[2 * i + 1] = value;
    }

    /** Turns the first {@code n} entries of {@code h}, in any order, into a heap: O(n). */
    static void heapify(long[] h, int n) {
        for (int i = (n - 2) >>> 2; n > 1 && i >= 0; i--) {
            siftDown(h, n, i, h[2 * i], h[2 * i + 1]);
        }
    }

    /** {@return whether the first {@code n} entries of {@code h} are in heap order, for invariant checks} */
    static boolean isHeap(long[] h, int n) {
        for (int i = 1; i < n; i++) {
            if (h[2 * ((i - 1) >>> 2)] > h[2 * i]) {
                return false;
            }
        }
        return true;
    }
}
