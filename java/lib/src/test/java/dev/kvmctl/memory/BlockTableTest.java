package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockTable.KEY;
import static dev.kvmctl.memory.BlockTable.LEN;
import static dev.kvmctl.memory.BlockTable.PREV;
import static dev.kvmctl.memory.BlockTable.TAG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link BlockTable} alone, in both forms (a record per unit, and records in a hash), against a
 * {@code HashMap} through growth and churn: every record found by its key with its fields intact
 * however removals moved it, missing keys not found, and the hash's size following the records held.
 */
class BlockTableTest {
    @Test
    void smallRegionsKeepARecordPerUnitThatNeverMoves() {
        BlockTable t = new BlockTable(100);
        assertTrue(t.isDirect());
        assertEquals(100, t.slots());
        assertEquals(8L * 4 * 100, t.footprintBytes());
        assertEquals(-1, t.find(0));
        assertFalse(t.ensureRoom(), "a record per unit: always room");
        int r = t.add(7, 3, 2);
        t.rec[r + TAG] = 5;
        int s = t.add(10, 90, 7);
        assertEquals(r, t.find(7));
        assertEquals(s, t.find(10));
        assertEquals(-1, t.find(8));
        t.remove(r);
        assertEquals(s, t.find(10), "the other record stays where it was");
        assertEquals(-1, t.find(7));
        assertEquals(1, t.count());
        assertEquals(BlockTable.EMPTY, t.rec[7 * BlockTable.STRIDE + KEY], "a free slot");
    }

    @Test
    void hashedRecordsAgreeWithAHashMapThroughGrowthAndChurn() {
        for (long units : new long[] {BlockTable.DIRECT_UNITS, BlockTable.DIRECT_UNITS + 1L, 1L << 40}) {
            BlockTable t = new BlockTable(units);
            assertEquals(units <= BlockTable.DIRECT_UNITS, t.isDirect());
            Map<Long, long[]> model = new HashMap<>();
            SplittableRandom rnd = new SplittableRandom(units);
            long[] keys = new long[30_000];
            int held = 0;
            for (int step = 0; step < 200_000; step++) {
                boolean grow = step < 100_000 ? rnd.nextInt(4) != 0 : rnd.nextInt(4) == 0;
                if (held < keys.length && (held == 0 || grow)) {
                    // Clustered keys, so that probe runs are long and removals move records.
                    long key = rnd.nextInt(4) == 0 ? rnd.nextLong(units) : rnd.nextLong(Math.min(units, 50_000));
                    if (model.containsKey(key)) {
                        continue;
                    }
                    long[] fields = {rnd.nextLong(1 << 20), rnd.nextLong(units), -1 - rnd.nextInt(5)};
                    t.ensureRoom();
                    int r = t.add(key, fields[0], fields[1]);
                    t.rec[r + TAG] = fields[2];
                    model.put(key, fields);
                    keys[held++] = key;
                } else {
                    int i = rnd.nextInt(held);
                    long key = keys[i];
                    keys[i] = keys[--held];
                    t.remove(t.find(key));
                    model.remove(key);
                }
                assertEquals(model.size(), t.count());
                if (step % 5000 == 0 || step == 199_999) {
                    for (Map.Entry<Long, long[]> e : model.entrySet()) {
                        int r = t.find(e.getKey());
                        assertTrue(r >= 0, "key " + e.getKey() + " lost at step " + step);
                        assertEquals(e.getKey(), t.rec[r + KEY]);
                        assertArrayEquals(e.getValue(), new long[] {t.rec[r + LEN], t.rec[r + PREV], t.rec[r + TAG]});
                    }
                    for (int k = 0; k < 100; k++) {
                        long key = rnd.nextLong(Math.min(units, 60_000));
                        assertEquals(model.containsKey(key), t.find(key) >= 0);
                    }
                    assertEquals(model.size(), t.keys().length);
                }
            }
            if (!t.isDirect()) {
                // At most 5/8 full before doubling: the hash follows the most records held (30,000), not the region.
                assertTrue(t.slots() <= 65_536, "slots " + t.slots());
                assertEquals(8L * 4 * t.slots(), t.footprintBytes());
            }
        }
    }

    @Test
    void aHashDoublesOnlyWhenFiveEighthsFull() {
        BlockTable t = new BlockTable(1L << 30);
        assertEquals(16, t.slots());
        for (int i = 0; i < 10; i++) {
            assertFalse(t.ensureRoom(), "record " + i);
            t.add(i * 1000L, 1, -1);
        }
        assertTrue(t.ensureRoom(), "the eleventh would make it more than 5/8 full");
        assertEquals(32, t.slots());
        for (int i = 0; i < 10; i++) {
            assertEquals(i * 1000L, t.rec[t.find(i * 1000L) + KEY]);
        }
    }
}
