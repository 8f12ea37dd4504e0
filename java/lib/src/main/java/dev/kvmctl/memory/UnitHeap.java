package dev.kvmctl.memory;

/**
 * An 8-ary min-heap of {@code long} keys kept in a caller's {@code long[]}; the caller keeps the
 * size and the room. Eight children of 8 bytes fill one cache line, so a descent touches a line per
 * level and there are few levels; the top levels, which every operation reads, stay in cache. An
 * insert of a key larger than most (the common case for {@link IdleIndex}, whose bins are drained
 * from their lowest address) stops after one comparison. Equal keys are allowed.
 */
final class UnitHeap {
    private UnitHeap() {}

    /** Adds {@code key} to the heap of {@code size} keys in {@code h}, which has room for one more. */
    static void push(long[] h, int size, long key) {
        int i = size;
        while (i > 0) {
            int p = (i - 1) >>> 3;
            long pk = h[p];
            if (pk <= key) {
                break;
            }
            h[i] = pk;
            i = p;
        }
        h[i] = key;
    }

    /** Removes the smallest key from the heap of {@code size} (1 or more) keys in {@code h}. */
    static void pop(long[] h, int size) {
        int n = size - 1;
        long key = h[n];
        int i = 0;
        while (true) {
            int c = 8 * i + 1;
            if (c >= n) {
                break;
            }
            int end = Math.min(c + 8, n);
            int m = c;
            long mk = h[c];
            for (int j = c + 1; j < end; j++) {
                long k = h[j];
                if (k < mk) {
                    mk = k;
                    m = j;
                }
            }
            if (mk >= key) {
                break;
            }
            h[i] = mk;
            i = m;
        }
        h[i] = key;
    }

    /** {@return whether the first {@code n} keys of {@code h} are in heap order, for invariant checks} */
    static boolean isHeap(long[] h, int n) {
        for (int i = 1; i < n; i++) {
            if (h[(i - 1) >>> 3] > h[i]) {
                return false;
            }
        }
        return true;
    }
}
