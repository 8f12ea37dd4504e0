package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.PriorityQueue;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link UnitHeap} alone, against a {@code PriorityQueue}: pushes and pops in any mix, duplicate keys, the order check. */
class UnitHeapTest {
    @Test
    void pushesAndPopsAgreeWithAPriorityQueue() {
        SplittableRandom rnd = new SplittableRandom(12);
        for (int bound : new int[] {3, 1000, Integer.MAX_VALUE}) {
            long[] h = new long[5000];
            int n = 0;
            PriorityQueue<Long> model = new PriorityQueue<>();
            for (int step = 0; step < 100_000; step++) {
                if (n < h.length && (n == 0 || rnd.nextInt(3) < 2 - (step / 30_000) % 2)) {
                    long key = rnd.nextLong(bound);
                    UnitHeap.push(h, n++, key);
                    model.add(key);
                } else {
                    assertEquals(model.poll(), h[0], "the smallest key at step " + step);
                    UnitHeap.pop(h, n--);
                }
                assertEquals(model.size(), n);
                if (n > 0) {
                    assertEquals(model.peek(), h[0]);
                }
                if (step % 1000 == 0) {
                    assertTrue(UnitHeap.isHeap(h, n));
                }
            }
            while (n > 0) {
                assertEquals(model.poll(), h[0]);
                UnitHeap.pop(h, n--);
            }
        }
    }

    @Test
    void theOrderCheckSeesAChildSmallerThanItsParent() {
        long[] h = {1, 5, 5, 5, 5, 5, 5, 5, 5, 6};
        assertTrue(UnitHeap.isHeap(h, h.length), "eight children of the root, the ninth entry under the first child");
        h[9] = 4;
        assertFalse(UnitHeap.isHeap(h, h.length));
        assertTrue(UnitHeap.isHeap(h, 9), "only the first n entries count");
        assertTrue(UnitHeap.isHeap(h, 0));
    }
}
