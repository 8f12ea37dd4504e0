package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockTable.KEY;
import static dev.kvmctl.memory.BlockTable.LEN;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@link IdleIndex} alone, on blocks laid out by hand in a {@link BlockTable} (they need not tile
 * a region here): best fit by exact bin, then the smallest larger size, the lowest offset among
 * equals; the bins' heaps with stale entries left by lazy removal, their compaction and bound; the
 * treap for large blocks; and its own invariant check.
 */
class IdleIndexTest {
    /** A block table and idle index over {@code units} units; blocks are named by their start unit. */
    private static final class Fixture {
        final BlockTable table;
        final IdleIndex idle;
        final List<Long> ids = new ArrayList<>();

        Fixture(long units, int maxBins) {
            table = new BlockTable(units);
            idle = new IdleIndex(table, units, maxBins);
        }

        /** An idle block of {@code lenUnits} units at unit {@code atUnit}; returns its start. */
        long idleBlock(long atUnit, long lenUnits) {
            table.ensureRoom();
            idle.insert(table.add(atUnit, lenUnits, BlockTable.EMPTY));
            ids.add(atUnit);
            return atUnit;
        }

        /** Takes the block at {@code unit} out of the index and the table. */
        void drop(long unit) {
            int r = table.find(unit);
            idle.remove(r);
            table.remove(r);
            ids.remove(Long.valueOf(unit));
        }

        long bestFitUnit(long n) {
            int r = idle.bestFit(n);
            return r < 0 ? -1 : table.rec[r + KEY];
        }

        long lenAt(long unit) {
            return table.rec[table.find(unit) + LEN];
        }

        void check() {
            idle.check(ids.size());
        }
    }

    @Test
    void exactFitThenSmallestLargerThenLowestOffset() {
        Fixture f = new Fixture(1 << 20, IdleIndex.MAX_BINS);
        f.idleBlock(1000, 8);
        f.idleBlock(100, 8);
        f.idleBlock(5000, 3);
        f.idleBlock(10, 20);
        f.idleBlock(200_000, 5000); // past the bins: in the treap
        f.idleBlock(300_000, 4096);
        f.check();
        assertEquals(100, f.bestFitUnit(8), "exact fit, the lower of two");
        assertEquals(5000, f.bestFitUnit(3), "exact fit");
        assertEquals(5000, f.bestFitUnit(1), "the smallest larger");
        assertEquals(100, f.bestFitUnit(4));
        assertEquals(10, f.bestFitUnit(9));
        assertEquals(300_000, f.bestFitUnit(21), "no bin fits: the treap's smallest");
        assertEquals(300_000, f.bestFitUnit(4096));
        assertEquals(200_000, f.bestFitUnit(4097));
        assertEquals(-1, f.bestFitUnit(5001));
        assertEquals(5000L, f.idle.largest());
        assertEquals(6, f.idle.count());
    }

    @Test
    void theLargestIdleBlockComesFromTheBinsWhenTheTreapIsEmpty() {
        Fixture f = new Fixture(1 << 20, IdleIndex.MAX_BINS);
        assertEquals(0, f.idle.largest());
        assertEquals(-1, f.idle.bestFit(1));
        f.idleBlock(0, 3);
        f.idleBlock(64, 4095);
        assertEquals(4095L, f.idle.largest());
        f.check();
    }

    @Test
    void theNextLowestBlockIsFoundPastStaleEntriesAcrossTheWholeRange() {
        // 2^40 units. Blocks of one size, far apart; every other one removed first, lazily (its
        // entry stays in the heap, stale), then the rest taken lowest first.
        Fixture f = new Fixture(1L << 40, IdleIndex.MAX_BINS);
        long[] at = {0, 1, 63, 64, 4095, 4096, 1L << 18, (1L << 24) + 5, (1L << 30) - 1, (1L << 36) + 64, (1L << 40) - 2};
        long[] ids = new long[at.length];
        for (int i = at.length - 1; i >= 0; i--) {
            ids[i] = f.idleBlock(at[i], 1);
        }
        f.check();
        for (int i = 1; i < at.length; i += 2) {
            f.drop(ids[i]);
        }
        f.check();
        assertEquals(at.length, f.idle.heapShape(1)[0], "removal is lazy: the entries are still there");
        for (int i = 0; i < at.length; i += 2) {
            assertEquals(at[i], f.bestFitUnit(1), "the lowest of what is left");
            f.drop(f.bestFitUnit(1));
            f.check();
        }
        assertEquals(-1, f.idle.bestFit(1));
        assertEquals(0, f.idle.heapShape(1)[0], "an emptied bin drops its stale entries");
    }

    @Test
    void aBlockEnteredAgainAtTheSamePlaceIsFoundOnceAndCompactedToOneEntry() {
        Fixture f = new Fixture(1 << 20, IdleIndex.MAX_BINS);
        f.idleBlock(50, 7); // the bin's top throughout
        long id = f.idleBlock(100, 7);
        for (int round = 0; round < 50; round++) {
            // Out of the bin below its top, so lazily: its entry stays...
            f.idle.remove(f.table.find(id));
            // ... and back: the same record, start and size, now with two entries that both look live.
            f.idle.insert(f.table.find(id));
            f.check();
            assertEquals(50, f.bestFitUnit(7));
        }
        assertEquals(4, f.idle.heapShape(7)[1], "compacted as it filled, never grown for two blocks");
        f.drop(f.bestFitUnit(7));
        f.check();
        assertEquals(100, f.bestFitUnit(7));
        f.drop(id);
        f.check();
        assertEquals(-1, f.idle.bestFit(7), "the block is gone, whatever entries it left");
    }

    @Test
    void staleEntriesStayBoundedUnderChurn() {
        // Blocks enter bins and leave them lazily, away from the tops, many times over: the heaps'
        // room must follow the blocks held, not the operations done.
        Fixture f = new Fixture(1 << 24, IdleIndex.MAX_BINS);
        SplittableRandom rnd = new SplittableRandom(7);
        List<Long> held = new ArrayList<>();
        long next = 0;
        for (int step = 0; step < 200_000; step++) {
            if (held.size() < 1000 || rnd.nextBoolean()) {
                held.add(f.idleBlock(next, 1 + rnd.nextInt(100)));
                next += 128;
            } else {
                int i = rnd.nextInt(held.size());
                f.drop(held.get(i));
                held.set(i, held.get(held.size() - 1));
                held.remove(held.size() - 1);
            }
            long room = f.idle.footprintBytes();
            // Entries of 8 bytes, plus per bin a heap reference, two counts and the bitmap, plus the (empty) tree's nodes.
            assertTrue(room <= 8L * (IdleIndex.SLACK * (long) held.size() + IdleIndex.SLACK_FIXED) + 16L * 4096 + 8 * 64 + 8 * 16,
                    "room " + room + " for " + held.size() + " blocks at step " + step);
            if (step % 20_000 == 0) {
                f.check();
            }
        }
        f.check();
    }

    @Test
    void randomInsertsAndRemovesAgreeWithASortedModel() {
        for (long units : new long[] {64, 5000, 1L << 22, 1L << 45}) {
            for (int maxBins : new int[] {1, 7, IdleIndex.MAX_BINS}) {
                Fixture f = new Fixture(units, maxBins);
                // (size, offset) of every idle block: best fit is the ceiling of (n, 0).
                TreeMap<Long, TreeSet<Long>> bySize = new TreeMap<>();
                SplittableRandom rnd = new SplittableRandom(units * 31 + maxBins);
                TreeSet<Long> used = new TreeSet<>();
                for (int step = 0; step < 4000; step++) {
                    if (f.ids.isEmpty() || rnd.nextInt(5) < 3) {
                        long at = rnd.nextLong(units);
                        if (!used.add(at)) {
                            continue;
                        }
                        long len = 1 + (rnd.nextInt(8) == 0 ? rnd.nextLong(Math.min(units, 10_000)) : rnd.nextLong(Math.min(units, 12)));
                        f.idleBlock(at, len);
                        bySize.computeIfAbsent(len, k -> new TreeSet<>()).add(at);
                    } else {
                        long at = f.ids.get(rnd.nextInt(f.ids.size()));
                        long len = f.lenAt(at);
                        f.drop(at);
                        used.remove(at);
                        bySize.get(len).remove(at);
                        if (bySize.get(len).isEmpty()) {
                            bySize.remove(len);
                        }
                    }
                    long n = 1 + rnd.nextLong(Math.min(units, 12_000));
                    var fit = bySize.ceilingEntry(n);
                    assertEquals(fit == null ? -1 : fit.getValue().first(), f.bestFitUnit(n),
                            "best fit for " + n + " units, " + units + " units, " + maxBins + " bins");
                    assertEquals(bySize.isEmpty() ? 0 : bySize.lastKey(), f.idle.largest());
                    if (step % 97 == 0 || step < 50) {
                        f.check();
                    }
                }
                f.check();
            }
        }
    }

    @Test
    void theCheckNamesWhatIsWrong() {
        Fixture f = new Fixture(1 << 10, IdleIndex.MAX_BINS);
        f.idleBlock(0, 2);
        f.idleBlock(10, 2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> f.idle.check(3));
        assertEquals("BlockAllocator invariant violated: idle index counts 2 blocks, but 3 are idle", e.getMessage());
        int b = f.table.find(10);
        f.table.rec[b + BlockTable.TAG] = 0; // in use behind the index's back
        e = assertThrows(IllegalStateException.class, () -> f.idle.check(2));
        assertEquals("BlockAllocator invariant violated: bin 2 counts 2 blocks, but 1 idle blocks have its size", e.getMessage());
        f.table.rec[b + BlockTable.TAG] = IdleIndex.IN_BIN;
        long c = f.idleBlock(20, 3);
        f.table.rec[f.table.find(c) + LEN] = 2; // moved to bin 2 behind the index's back
        e = assertThrows(IllegalStateException.class, () -> f.idle.check(3));
        assertEquals("BlockAllocator invariant violated: bin 2 counts 2 blocks, but 3 idle blocks have its size", e.getMessage());
        f.table.rec[f.table.find(c) + LEN] = 3;
        f.check();
    }

    @Test
    void aBinGoesFromOneBlockToSeveralAndBack() {
        Fixture f = new Fixture(1 << 20, IdleIndex.MAX_BINS);
        long a = f.idleBlock(70_000, 5);
        f.check();
        long b = f.idleBlock(9, 5);
        f.check();
        long c = f.idleBlock(300_000, 5);
        assertEquals(9, f.bestFitUnit(5));
        f.drop(b);
        f.check();
        assertEquals(70_000, f.bestFitUnit(5));
        f.drop(a);
        f.check();
        assertEquals(300_000, f.bestFitUnit(5), "the last one");
        f.drop(c);
        f.check();
        assertEquals(-1, f.idle.bestFit(5));
    }

    @Test
    void absurdlyManyUnitsStillWork() {
        Fixture f = new Fixture(1L << 60, IdleIndex.MAX_BINS);
        assertEquals(IdleIndex.MAX_BINS, f.idle.bins);
        f.idleBlock((1L << 60) - 9, 8);
        f.idleBlock(1L << 59, 8);
        f.idleBlock(5, 8);
        f.idleBlock(7, 2);
        assertEquals(7, f.bestFitUnit(2));
        assertEquals(5, f.bestFitUnit(3));
        f.check();
    }
}
