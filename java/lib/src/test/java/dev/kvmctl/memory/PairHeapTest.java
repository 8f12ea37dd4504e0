package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.PriorityQueue;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link PairHeap} alone: the same minima as a {@code PriorityQueue}, values travelling with their keys. */
class PairHeapTest {
    @Test
    void pushesAndPopsAgreeWithAPriorityQueue() {
        SplittableRandom rnd = new SplittableRandom(3);
        long[] h = new long[2 * 5000];
        int n = 0;
        PriorityQueue<Long> model = new PriorityQueue<>();
        for (int step = 0; step < 100_000; step++) {
            if (n < 5000 && (n == 0 || rnd.nextInt(3) > 0)) {
                long key = rnd.nextLong(rnd.nextBoolean() ? 50 : 1L << 40); // duplicates too
                PairHeap.push(h, n++, key, ~key);
                model.add(key);
            } else {
                assertEquals(model.poll(), h[0]);
                PairHeap.pop(h, n--);
            }
            if (n > 0) {
                assertEquals(model.peek(), h[0], "the top is the smallest key");
                assertEquals(~h[0], h[1], "the value travels with its key");
            }
            if (step % 1000 == 0) {
                assertTrue(PairHeap.isHeap(h, n));
            }
        }
    }

    @Test
    void heapifyOrdersAnyArrayAndIsHeapSpotsDisorder() {
        for (int n : new int[] {0, 1, 2, 5, 17, 1000}) {
            long[] h = new long[2 * n];
            SplittableRandom rnd = new SplittableRandom(n);
            for (int i = 0; i < n; i++) {
                h[2 * i] = rnd.nextLong(100);
                h[2 * i + 1] = ~h[2 * i];
            }
            PairHeap.heapify(h, n);
            assertTrue(PairHeap.isHeap(h, n), "heapified " + n);
            long last = Long.MIN_VALUE;
            for (int k = n; k > 0; k--) {
                assertTrue(h[0] >= last, "popped in order");
                assertEquals(~h[0], h[1]);
                last = h[0];
                PairHeap.pop(h, k);
            }
        }
        assertFalse(PairHeap.isHeap(new long[] {5, 0, 3, 0}, 2));
        assertTrue(PairHeap.isHeap(new long[] {3, 0, 5, 0}, 2));
    }
}
