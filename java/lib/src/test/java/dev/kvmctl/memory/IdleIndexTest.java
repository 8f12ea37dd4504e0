package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.LEN;
import static dev.kvmctl.memory.BlockStore.NIL;
import static dev.kvmctl.memory.BlockStore.OFF;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;

/**
 * {@link IdleIndex} alone, on blocks laid out by hand (they need not tile a region here): best fit
 * by exact bin, then the smallest larger size, the lowest offset among equals; the bins' offset
 * tries across several levels; the treap for large blocks; and its own invariant check.
 */
class IdleIndexTest {
    /** A store, offset index and idle index over {@code units} units of {@code 1 << shift} bytes. */
    private static final class Fixture {
        final BlockStore store;
        final OffsetIndex offsets;
        final IdleIndex idle;
        final int shift;
        final List<Integer> ids = new ArrayList<>();

        Fixture(long units, int shift, int maxBins) {
            this.shift = shift;
            store = new BlockStore((int) Math.min(1 << 20, units));
            offsets = new OffsetIndex(store, units << shift, shift);
            idle = new IdleIndex(store, offsets, units, shift, maxBins);
        }

        /** An idle block of {@code lenUnits} units at unit {@code atUnit}. */
        int idleBlock(long atUnit, long lenUnits) {
            int id = store.newId();
            store.set(id, OFF, atUnit << shift);
            store.set(id, LEN, lenUnits << shift);
            offsets.add(atUnit << shift, id);
            idle.insert(id);
            ids.add(id);
            return id;
        }

        void drop(int id) {
            idle.remove(id);
            offsets.remove(store.get(id, OFF));
            store.set(id, BlockStore.TAG, 0);
            store.freeId(id);
            ids.remove(Integer.valueOf(id));
        }

        long bestFitUnit(long n) {
            int id = idle.bestFit(n);
            return id == NIL ? -1 : store.get(id, OFF) >>> shift;
        }

        void check() {
            boolean[] live = new boolean[store.idLimit()];
            for (int id : ids) {
                live[id] = true;
            }
            idle.check(live, ids.size());
        }
    }

    @Test
    void exactFitThenSmallestLargerThenLowestOffset() {
        Fixture f = new Fixture(1 << 20, 6, IdleIndex.MAX_BINS);
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
        assertEquals(5000L << 6, f.idle.largest());
        assertEquals(6, f.idle.count());
    }

    @Test
    void theLargestIdleBlockComesFromTheBinsWhenTheTreapIsEmpty() {
        Fixture f = new Fixture(1 << 20, 6, IdleIndex.MAX_BINS);
        assertEquals(0, f.idle.largest());
        assertEquals(NIL, f.idle.bestFit(1));
        f.idleBlock(0, 3);
        f.idleBlock(64, 4095);
        assertEquals(4095L << 6, f.idle.largest());
        f.check();
    }

    @Test
    void theNextLowestBlockIsFoundAcrossEveryLevelOfTheTrie() {
        // 2^40 units: the tries are 7 levels deep. Blocks of one size, far apart, removed lowest
        // first: each time the bin's next-lowest block must be found through the levels above.
        Fixture f = new Fixture(1L << 40, 0, IdleIndex.MAX_BINS);
        long[] at = {0, 1, 63, 64, 4095, 4096, 1L << 18, (1L << 24) + 5, (1L << 30) - 1, (1L << 36) + 64, (1L << 40) - 2};
        for (int i = at.length - 1; i >= 0; i--) {
            f.idleBlock(at[i], 1);
        }
        f.check();
        for (int i = 0; i < at.length; i++) {
            assertEquals(at[i], f.bestFitUnit(1), "the lowest of what is left");
            if (i < at.length - 1) { // a bin's last block is kept out of the trie
                assertEquals(at[i], f.idle.ceiling(1, i == 0 ? 0 : at[i - 1] + 1));
            }
            f.drop(f.idle.bestFit(1));
            f.check();
        }
        assertEquals(NIL, f.idle.bestFit(1));
        assertEquals(-1, f.idle.ceiling(1, 0));
    }

    @Test
    void randomInsertsAndRemovesAgreeWithASortedModel() {
        for (long units : new long[] {64, 5000, 1L << 22, 1L << 45}) {
            for (int maxBins : new int[] {1, 7, IdleIndex.MAX_BINS}) {
                Fixture f = new Fixture(units, 3, maxBins);
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
                        int id = f.ids.get(rnd.nextInt(f.ids.size()));
                        long at = f.store.get(id, OFF) >>> 3;
                        long len = f.store.get(id, LEN) >>> 3;
                        f.drop(id);
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
                    assertEquals(bySize.isEmpty() ? 0 : bySize.lastKey() << 3, f.idle.largest());
                    if (step % 97 == 0) {
                        f.check();
                    }
                }
                f.check();
            }
        }
    }

    @Test
    void theCheckNamesABlockThatIsNotIndexed() {
        Fixture f = new Fixture(1 << 10, 6, IdleIndex.MAX_BINS);
        f.idleBlock(0, 2);
        f.idleBlock(10, 2);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> f.idle.check(new boolean[] {true, true}, 3));
        assertEquals("BlockAllocator invariant violated: idle index counts 2 blocks, but 3 are idle", e.getMessage());
        e = assertThrows(IllegalStateException.class, () -> f.idle.check(new boolean[] {true, false}, 2));
        assertEquals("BlockAllocator invariant violated: bin 2 holds unit 10, where no idle block starts", e.getMessage());
        f.idleBlock(20, 3); // alone in its bin: no trie, only the bin's lowest offset
        e = assertThrows(IllegalStateException.class, () -> f.idle.check(new boolean[] {true, true, false}, 3));
        assertEquals("BlockAllocator invariant violated: bin 3's one block is not an idle block of its size", e.getMessage());
        f.check();
    }

    @Test
    void aBinGoesFromOneBlockToATrieAndBack() {
        Fixture f = new Fixture(1 << 20, 6, IdleIndex.MAX_BINS);
        int a = f.idleBlock(70_000, 5);
        f.check();
        int b = f.idleBlock(9, 5);
        f.check();
        int c = f.idleBlock(300_000, 5);
        assertEquals(9, f.bestFitUnit(5));
        f.drop(b);
        f.check();
        assertEquals(70_000, f.bestFitUnit(5));
        f.drop(a);
        f.check();
        assertEquals(300_000, f.bestFitUnit(5), "the last one, out of the trie");
        f.drop(c);
        f.check();
        assertEquals(NIL, f.idle.bestFit(5));
    }

    @Test
    void absurdlyManyUnitsGetNoBinsAndStillWork() {
        Fixture f = new Fixture(1L << 60, 0, IdleIndex.MAX_BINS);
        assertEquals(1, f.idle.bins);
        f.idleBlock(1L << 59, 8);
        f.idleBlock(5, 8);
        f.idleBlock(7, 2);
        assertEquals(7, f.bestFitUnit(2));
        assertEquals(5, f.bestFitUnit(3));
        f.check();
    }
}
