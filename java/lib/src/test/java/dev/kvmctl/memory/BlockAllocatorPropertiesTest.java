package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HashMap;
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
 * every answer equals that of a deliberately naive reference implementation of the same method
 * (exact fit, else best fit at the lowest address; merge on free), and an independent ledger of
 * live allocations confirms they are aligned, big enough, inside the region and never overlap.
 */
class BlockAllocatorPropertiesTest {
    private static final int OWNERS = 4;

    /** The method spelled out as plainly as possible: a sorted map of blocks and linear scans. */
    static final class Reference {
        /** length, owner (-1 idle). */
        private record Blk(long len, int owner) {}

        final long size;
        final long alignment;
        final TreeMap<Long, Blk> blocks = new TreeMap<>();

        Reference(long size, long alignment) {
            this.size = size;
            this.alignment = alignment;
            blocks.put(0L, new Blk(size, -1));
        }

        long largestIdle() {
            long max = 0;
            for (Blk b : blocks.values()) {
                if (b.owner < 0) {
                    max = Math.max(max, b.len);
                }
            }
            return max;
        }

        AllocationResult allocate(int owner, long bytes) {
            if (bytes <= 0) {
                return new AllocationResult.Refused(AllocationResult.Reason.INVALID_SIZE, bytes, largestIdle());
            }
            if (bytes > size) {
                return new AllocationResult.Refused(AllocationResult.Reason.LARGER_THAN_REGION, bytes, largestIdle());
            }
            long n = (bytes + alignment - 1) / alignment * alignment;
            Long chosen = null;
            for (Map.Entry<Long, Blk> e : blocks.entrySet()) {
                if (e.getValue().owner < 0 && e.getValue().len == n) {
                    chosen = e.getKey();
                    break;
                }
            }
            if (chosen == null) {
                long bestLen = Long.MAX_VALUE;
                for (Map.Entry<Long, Blk> e : blocks.entrySet()) {
                    Blk b = e.getValue();
                    if (b.owner < 0 && b.len > n && b.len < bestLen) {
                        bestLen = b.len;
                        chosen = e.getKey();
                    }
                }
            }
            if (chosen == null) {
                return new AllocationResult.Refused(
                        AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, bytes, largestIdle());
            }
            Blk b = blocks.get(chosen);
            blocks.put(chosen, new Blk(n, owner));
            if (b.len > n) {
                blocks.put(chosen + n, new Blk(b.len - n, -1));
            }
            return new AllocationResult.Allocated(chosen, n);
        }

        private BlockResult.Refused refusal(int owner, long offset) {
            Blk b = blocks.get(offset);
            if (b == null) {
                return new BlockResult.Refused(BlockResult.Reason.NOT_A_BLOCK_START, offset, -1);
            }
            if (b.owner < 0) {
                return new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, offset, -1);
            }
            if (b.owner != owner) {
                return new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, offset, b.owner);
            }
            return null;
        }

        BlockResult free(int owner, long offset) {
            BlockResult.Refused no = refusal(owner, offset);
            if (no != null) {
                return no;
            }
            long len = blocks.get(offset).len;
            long start = offset;
            long total = len;
            Map.Entry<Long, Blk> after = blocks.higherEntry(offset);
            if (after != null && after.getValue().owner < 0) {
                total += after.getValue().len;
                blocks.remove(after.getKey());
            }
            Map.Entry<Long, Blk> before = blocks.lowerEntry(offset);
            if (before != null && before.getValue().owner < 0) {
                blocks.remove(offset);
                start = before.getKey();
                total += before.getValue().len;
            }
            blocks.put(start, new Blk(total, -1));
            return new BlockResult.Done(offset, len);
        }

        BlockResult transfer(int from, long offset, int to) {
            BlockResult.Refused no = refusal(from, offset);
            if (no != null) {
                return no;
            }
            Blk b = blocks.get(offset);
            blocks.put(offset, new Blk(b.len, to));
            return new BlockResult.Done(offset, b.len);
        }

        BlockAllocator.Reclaimed freeAll(int owner) {
            int count = 0;
            long bytes = 0;
            // Collect keys first: TreeMap entries are not stable snapshots across removals.
            List<Long> mine = new ArrayList<>();
            blocks.forEach((off, b) -> {
                if (b.owner == owner) {
                    mine.add(off);
                }
            });
            for (long off : mine) {
                count++;
                bytes += blocks.get(off).len;
                free(owner, off);
            }
            return new BlockAllocator.Reclaimed(count, bytes);
        }

        AllocatorStats stats() {
            int used = 0;
            int idle = 0;
            long inUse = 0;
            Map<Integer, Long> byOwner = new HashMap<>();
            for (Blk b : blocks.values()) {
                if (b.owner < 0) {
                    idle++;
                } else {
                    used++;
                    inUse += b.len;
                    byOwner.merge(b.owner, b.len, Long::sum);
                }
            }
            long idleBytes = size - inUse;
            long largest = largestIdle();
            double fragmentation = idleBytes == 0 ? 0.0 : 1.0 - (double) largest / idleBytes;
            return new AllocatorStats(size, used, idle, inUse, idleBytes, largest, fragmentation, byOwner);
        }
    }

    /**
     * Runs both implementations side by side and keeps its own ledger of live allocations
     * (offset to {size, owner}) as a third, independent check.
     */
    static final class Harness {
        final BlockAllocator real;
        final Reference ref;
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
            this.ref = new Reference(size, alignment);
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
                        Arbitraries.integers().between(0, 6),
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
                default -> h.freeAll(op.owner());
            }
        }
    }
}
