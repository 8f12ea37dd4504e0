package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.From;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/**
 * Random operation sequences against {@link BlockAllocator}: after every step the invariants hold,
 * every answer equals that of {@link ReferenceAllocator}, a deliberately naive implementation of the
 * same method (exact fit, else best fit at the lowest address; merge on free) that the benchmarks
 * also use as their baseline, and an independent ledger of live allocations confirms they are
 * aligned, big enough, inside the region and never overlap.
 */
class BlockAllocatorPropertiesTest {
    private static final int OWNERS = 4;

    /**
     * Runs both implementations side by side and keeps its own ledger of live allocations
     * (offset to {size, owner}) as a third, independent check.
     */
    static final class Harness {
        final BlockAllocator real;
        final ReferenceAllocator ref;
        final TreeMap<Long, long[]> live = new TreeMap<>();
        final List<Long> liveOffsets = new ArrayList<>();
        final List<Long> freed = new ArrayList<>();
        final long size;
        final long alignment;
        long steps;

        Harness(long size, long alignment, int maxBins) {
            this.size = size;
            this.alignment = alignment;
            this.real = new BlockAllocator(size, alignment, maxBins);
            this.ref = new ReferenceAllocator(size, alignment);
        }

        void allocate(int owner, long bytes) {
            AllocationResult got = real.allocate(owner, bytes);
            assertEquals(ref.allocate(owner, bytes), got, () -> "allocate(" + owner + ", " + bytes + ")");
            if (got instanceof AllocationResult.Allocated a) {
                assertTrue(a.size() >= bytes && a.size() - bytes < alignment, "size is the rounded request");
                assertEquals(0, a.offset() % alignment, "offset aligned");
                assertEquals(0, a.size() % alignment, "size aligned");
                assertTrue(a.offset() >= 0 && a.offset() <= size - a.size(), "inside the region");
                Map.Entry<Long, long[]> below = live.floorEntry(a.offset());
                if (below != null && below.getKey() + below.getValue()[0] > a.offset()) {
                    fail("overlaps the live block at " + below.getKey());
                }
                Map.Entry<Long, long[]> above = live.ceilingEntry(a.offset());
                if (above != null && above.getKey() < a.offset() + a.size()) {
                    fail("overlaps the live block at " + above.getKey());
                }
                live.put(a.offset(), new long[] {a.size(), owner});
                liveOffsets.add(a.offset());
            } else {
                AllocationResult.Refused no = (AllocationResult.Refused) got;
                if (no.reason() == AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH) {
                    assertTrue(no.largestIdle() < (bytes + alignment - 1) / alignment * alignment);
                }
            }
            after();
        }

        void free(int owner, long offset) {
            AllocatorStats before = real.stats();
            BlockResult got = real.free(owner, offset);
            assertEquals(ref.free(owner, offset), got, () -> "free(" + owner + ", " + offset + ")");
            long[] entry = live.get(offset);
            boolean mine = entry != null && entry[1] == owner;
            assertEquals(mine, got.isDone(), "frees exactly the caller's live block starts");
            if (mine) {
                live.remove(offset);
                liveOffsets.remove(Long.valueOf(offset));
                freed.add(offset);
            } else {
                assertEquals(before, real.stats(), "a refused free changes nothing");
            }
            after();
        }

        void transfer(int from, long offset, int to) {
            AllocatorStats before = real.stats();
            BlockResult got = real.transfer(from, offset, to);
            assertEquals(ref.transfer(from, offset, to), got, () -> "transfer(" + from + ", " + offset + ", " + to + ")");
            long[] entry = live.get(offset);
            assertEquals(entry != null && entry[1] == from, got.isDone());
            if (got.isDone()) {
                entry[1] = to;
            } else {
                assertEquals(before, real.stats(), "a refused transfer changes nothing");
            }
            after();
        }

        /** Allocates up to {@code count} blocks in one batch; each allocated block is checked as one. */
        void allocateBatch(int owner, long bytes, int count) {
            long[] got = new long[count + 2];
            long[] want = new long[count + 2];
            int n = real.allocateBatch(owner, bytes, got, 1, count);
            assertEquals(ref.allocateBatch(owner, bytes, want, 1, count), n, () -> "allocateBatch(" + owner + ", " + bytes + ", " + count + ")");
            assertEquals(java.util.Arrays.toString(want), java.util.Arrays.toString(got), "the same offsets, nothing written outside");
            long rounded = (bytes + alignment - 1) / alignment * alignment;
            for (int i = 1; i <= n; i++) {
                Map.Entry<Long, long[]> below = live.floorEntry(got[i]);
                if (below != null && below.getKey() + below.getValue()[0] > got[i]) {
                    fail("batch block overlaps the live block at " + below.getKey());
                }
                live.put(got[i], new long[] {rounded, owner});
                liveOffsets.add(got[i]);
            }
            after();
        }

        /** Frees a batch of offsets (some may be refused: the batch stops there). */
        void freeBatch(int owner, long[] offsets) {
            int n = real.freeBatch(owner, offsets, 0, offsets.length);
            assertEquals(ref.freeBatch(owner, offsets, 0, offsets.length), n, () -> "freeBatch(" + owner + ", " + java.util.Arrays.toString(offsets) + ")");
            for (int i = 0; i < n; i++) {
                long[] entry = live.remove(offsets[i]);
                assertTrue(entry != null && entry[1] == owner, "freed exactly the caller's live blocks");
                liveOffsets.remove(Long.valueOf(offsets[i]));
                freed.add(offsets[i]);
            }
            if (n < offsets.length) {
                long[] entry = live.get(offsets[n]);
                assertTrue(entry == null || entry[1] != owner, "stopped at a block the caller could not free");
            }
            after();
        }

        void freeAll(int owner) {
            BlockAllocator.Reclaimed got = real.freeAll(owner);
            assertEquals(ref.freeAll(owner), got, () -> "freeAll(" + owner + ")");
            live.entrySet().removeIf(e -> e.getValue()[1] == owner);
            liveOffsets.retainAll(live.keySet());
            after();
        }

        /** How often to compare full stats with the reference (every step: 1); invariants are always checked. */
        int statsEvery = 1;

        private void after() {
            steps++;
            real.checkInvariants();
            if (steps % statsEvery == 0) {
                compareStats();
            }
        }

        void compareStats() {
            AllocatorStats s = real.stats();
            assertEquals(ref.stats(), s);
            assertEquals(live.size(), s.blocksInUse());
        }

        /** A live offset chosen by {@code pick}, or -1 if nothing is live. */
        long pickLive(long pick) {
            return liveOffsets.isEmpty() ? -1 : liveOffsets.get(Math.floorMod(pick, liveOffsets.size()));
        }

        int ownerOf(long offset) {
            return (int) live.get(offset)[1];
        }
    }

    // ---- long random sequences, driven by a seed (jqwik picks and reports the seed) ----

    /**
     * Steps per sequence: 10,000, or {@code -Dkvmctl.allocator.steps=N} (scripts/mutation.sh runs
     * this property once per surviving mutant, and gives it 300).
     */
    private static final int STEPS = Integer.getInteger("kvmctl.allocator.steps", 10_000);

    @Property(tries = 200)
    void longRandomSequencesMatchTheReference(
            @ForAll long seed,
            @ForAll @IntRange(min = 1, max = 400) int regionUnits,
            @ForAll @IntRange(min = 0, max = 16) int alignmentShift,
            @ForAll("binCounts") int maxBins) {
        long alignment = 1L << alignmentShift;
        Harness h = new Harness(regionUnits * alignment, alignment, maxBins);
        // Every answer is still compared; full stats (two map builds) only every 8 steps, for time.
        h.statsEvery = 8;
        SplittableRandom rnd = new SplittableRandom(seed);
        long size = h.size;
        // Typical request sizes vary per run, so some runs crowd the region and some leave it roomy.
        long typical = Math.max(1, size / (2 + rnd.nextInt(60)));
        for (int i = 0; i < STEPS; i++) {
            int owner = rnd.nextInt(OWNERS);
            int dice = rnd.nextInt(100);
            if (dice < 40) {
                long bytes;
                int kind = rnd.nextInt(100);
                if (kind < 4) {
                    bytes = 0;
                } else if (kind < 6) {
                    bytes = -1 - rnd.nextLong(Long.MAX_VALUE);
                } else if (kind < 9) {
                    bytes = size + 1 + rnd.nextLong(Long.MAX_VALUE - size);
                } else if (kind < 12) {
                    bytes = size - rnd.nextLong(alignment);
                } else {
                    bytes = 1 + rnd.nextLong(typical);
                }
                h.allocate(owner, bytes);
            } else if (dice < 72) {
                long off = h.pickLive(rnd.nextLong());
                if (off >= 0) {
                    h.free(h.ownerOf(off), off);
                }
            } else if (dice < 77) {
                long off = h.pickLive(rnd.nextLong());
                if (off >= 0) {
                    h.free((h.ownerOf(off) + 1 + rnd.nextInt(OWNERS - 1)) % OWNERS, off);
                }
            } else if (dice < 82) {
                if (!h.freed.isEmpty()) {
                    h.free(owner, h.freed.get(rnd.nextInt(h.freed.size())));
                }
            } else if (dice < 87) {
                long off = switch (rnd.nextInt(4)) {
                    case 0 -> rnd.nextLong(size + 1);
                    case 1 -> rnd.nextLong(size / alignment + 2) * alignment;
                    case 2 -> rnd.nextLong();
                    default -> h.pickLive(rnd.nextLong()) + 1 + rnd.nextLong(alignment);
                };
                h.free(owner, off);
            } else if (dice < 95) {
                long off = h.pickLive(rnd.nextLong());
                if (off >= 0) {
                    int from = rnd.nextInt(4) == 0 ? owner : h.ownerOf(off);
                    h.transfer(from, off, rnd.nextInt(OWNERS));
                } else {
                    h.transfer(owner, rnd.nextLong(size), rnd.nextInt(OWNERS));
                }
            } else if (dice < 96) {
                h.freeAll(owner);
            } else if (dice < 97) {
                h.allocateBatch(owner, 1 + rnd.nextLong(typical), rnd.nextInt(9));
            } else if (dice < 98) {
                // Mostly the owner's own blocks, sometimes a stranger's or a bad offset in the middle.
                long[] batch = new long[rnd.nextInt(9)];
                for (int k = 0; k < batch.length; k++) {
                    long off = h.pickLive(rnd.nextLong());
                    batch[k] = rnd.nextInt(10) == 0 || off < 0 ? rnd.nextLong(size + 1) : off;
                }
                h.freeBatch(batch.length > 0 && h.live.containsKey(batch[0]) ? h.ownerOf(batch[0]) : owner, batch);
            } else {
                // Drain then refill in a burst: long runs of merges and splits.
                for (int k = 0, n = rnd.nextInt(20); k < n; k++) {
                    long off = h.pickLive(rnd.nextLong());
                    if (off >= 0) {
                        h.free(h.ownerOf(off), off);
                    }
                }
            }
        }
        h.compareStats();
        assertTrue(h.steps >= STEPS / 2, "most steps exercised the allocator");
    }

    /**
     * How many exact-size bins the allocator may use: from none (everything in the size-ordered
     * tree) through a mix of bins and tree, to the default, where these small regions fit in bins.
     */
    @Provide
    Arbitrary<Integer> binCounts() {
        return Arbitraries.of(1, 2, 3, 5, 9, 17, 64, 200, 4096);
    }

    // ---- shorter generated sequences, which jqwik can shrink to a minimal failing case ----

    /** One step: what to do, as whom, with which size or live-block selector, and to whom. */
    record Op(int kind, int owner, long value, int other) {}

    @Provide
    Arbitrary<Op> ops() {
        Arbitrary<Long> values = Arbitraries.oneOf(
                Arbitraries.longs().between(-70, 1100),
                Arbitraries.of(0L, 1L, 63L, 64L, 65L, 1023L, 1024L, 1025L, Long.MAX_VALUE, Long.MIN_VALUE));
        return Combinators.combine(
                        Arbitraries.integers().between(0, 8),
                        Arbitraries.integers().between(0, OWNERS - 1),
                        values,
                        Arbitraries.integers().between(0, OWNERS - 1))
                .as(Op::new);
    }

    @Property(tries = 300)
    void shrinkableSequencesMatchTheReference(
            @ForAll @Size(max = 300) List<@From("ops") Op> ops, @ForAll("binCounts") int maxBins) {
        Harness h = new Harness(1024, 64, maxBins);
        for (Op op : ops) {
            switch (op.kind()) {
                case 0, 1 -> h.allocate(op.owner(), op.value());
                case 2 -> {
                    long off = h.pickLive(op.value());
                    h.free(off >= 0 ? h.ownerOf(off) : op.owner(), off);
                }
                case 3 -> h.free(op.owner(), h.pickLive(op.value()));
                case 4 -> h.free(op.owner(), op.value());
                case 5 -> {
                    long off = h.pickLive(op.value());
                    h.transfer(off >= 0 && op.owner() != op.other() ? h.ownerOf(off) : op.owner(), off, op.other());
                }
                case 6 -> h.allocateBatch(op.owner(), op.value(), op.other() + 1);
                case 7 -> {
                    long off = h.pickLive(op.value());
                    int owner = off >= 0 ? h.ownerOf(off) : op.owner();
                    h.freeBatch(owner, new long[] {off, h.pickLive(op.value() + 1), h.pickLive(op.value() + 2)});
                }
                default -> h.freeAll(op.owner());
            }
        }
    }
}
