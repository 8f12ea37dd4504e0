package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** {@link LongMap} alone: the same answers as a {@code HashMap} through growth and heavy churn. */
class LongMapTest {
    @Test
    void putGetAndRemoveAgreeWithAHashMap() {
        LongMap map = new LongMap();
        Map<Long, Long> model = new HashMap<>();
        SplittableRandom rnd = new SplittableRandom(12);
        for (int step = 0; step < 200_000; step++) {
            // Few distinct keys, some sharing low bits (aligned offsets), so probe runs collide.
            long key = rnd.nextInt(4) == 0 ? rnd.nextLong(Long.MAX_VALUE) : rnd.nextLong(3000) << 6;
            if (model.containsKey(key)) {
                assertEquals(model.get(key), map.get(key, -7));
                if (rnd.nextBoolean()) {
                    map.remove(key);
                    model.remove(key);
                } else {
                    int slot = map.slotOf(key);
                    map.setValueAt(slot, step);
                    model.put(key, (long) step);
                }
            } else {
                assertEquals(-7, map.get(key, -7));
                assertEquals(-1, map.slotOf(key));
                map.putNew(key, ~key);
                model.put(key, ~key);
            }
            assertEquals(model.size(), map.size());
        }
        for (Map.Entry<Long, Long> e : model.entrySet()) {
            assertEquals(e.getValue(), map.valueAt(map.slotOf(e.getKey())));
        }
        int seen = 0;
        for (int slot = 0; slot < map.capacity(); slot++) {
            long key = map.keyAt(slot);
            if (key >= 0) {
                seen++;
                assertEquals(model.get(key), map.valueAt(slot));
            }
        }
        assertEquals(model.size(), seen);
    }

    @Test
    void itGrowsToStayAtMostFiveEighthsFullAndNeverShrinks() {
        LongMap map = new LongMap();
        assertEquals(16, map.capacity());
        for (long k = 0; k < 10; k++) {
            map.putNew(k, k);
        }
        assertEquals(16, map.capacity(), "10 of 16 is exactly 5/8");
        map.putNew(10, 10);
        assertEquals(32, map.capacity());
        assertEquals(8L * 2 * 32, map.footprintBytes());
        for (long k = 0; k <= 10; k++) {
            map.remove(k);
        }
        assertEquals(0, map.size());
        assertEquals(32, map.capacity());
        for (int i = 0; i < 100_000; i++) {
            map.putNew(i * 64L, i);
            assertTrue(map.size() * 8L <= map.capacity() * 5L);
        }
        assertTrue(map.capacity() * 5L < map.size() * 16L, "no more than twice what 5/8 needs");
    }
}
