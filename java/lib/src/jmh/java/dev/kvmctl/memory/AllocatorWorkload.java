package dev.kvmctl.memory;

import java.util.SplittableRandom;

/**
 * The starting state of {@link AllocatorBenchmark}, {@link AllocatorFloorBenchmark} and
 * {@link ReferenceCheck}, the same for every allocator: 2N requests of 1 to 4096 bytes by
 * four owners, allocated in order from a fresh region of 2N x 4096 bytes, then a random half freed
 * in random order (fixed seed), leaving N live blocks scattered among idle holes of all sizes.
 */
final class AllocatorWorkload {
    static final long SEED = 0x5EED_0A11_0CA7_0001L;
    static final long MAX_REQUEST = 4096;
    static final long ALIGNMENT = BlockAllocator.DEFAULT_ALIGNMENT;
    static final int OWNERS = 4;

    final int live;
    final long regionSize;
    private final long[] requests;
    private final int[] owners;
    /** Request indices in random order: the first {@code live} stay, the rest are freed in this order. */
    private final int[] order;

    /** The live blocks after {@link #populate} or {@link #populateReference}: slot i is order[i]. */
    final long[] liveOffsets;
    final int[] liveOwners;

    AllocatorWorkload(int live) {
        this.live = live;
        this.regionSize = 2L * live * MAX_REQUEST;
        int total = 2 * live;
        SplittableRandom rnd = new SplittableRandom(SEED);
        requests = new long[total];
        owners = new int[total];
        order = new int[total];
        for (int j = 0; j < total; j++) {
            requests[j] = 1 + rnd.nextLong(MAX_REQUEST);
            owners[j] = rnd.nextInt(OWNERS);
            order[j] = j;
        }
        for (int j = total - 1; j > 0; j--) {
            int k = rnd.nextInt(j + 1);
            int t = order[j];
            order[j] = order[k];
            order[k] = t;
        }
        liveOffsets = new long[live];
        liveOwners = new int[live];
    }

    private static long rounded(long bytes) {
        return (bytes + ALIGNMENT - 1) & -ALIGNMENT;
    }

    /** What the starting state is built on: an allocator seen as its two calls. */
    interface Target {
        /** {@return whether the block at {@code offset}, held by {@code owner}, was freed} */
        boolean free(int owner, long offset);

        /** {@return the offset of a new block of at least {@code bytes} for {@code owner}, or -1 if refused} */
        long allocate(int owner, long bytes);

        /** {@return {@code a} through its public API} */
        static Target of(BlockAllocator a) {
            return new Target() {
                @Override
                public boolean free(int owner, long offset) {
                    return a.free(owner, offset).isDone();
                }

                @Override
                public long allocate(int owner, long bytes) {
                    return a.allocate(owner, bytes) instanceof AllocationResult.Allocated ok ? ok.offset() : -1;
                }
            };
        }
    }

    /** Builds the state through {@code target}'s calls: 2N allocations, N frees; fills the live arrays. */
    void populate(Target target) {
        long[] offsets = new long[requests.length];
        for (int j = 0; j < requests.length; j++) {
            offsets[j] = target.allocate(owners[j], requests[j]);
            if (offsets[j] < 0) {
                throw new IllegalStateException("pre-population allocation " + j + " refused");
            }
        }
        for (int i = live; i < order.length; i++) {
            int j = order[i];
            if (!target.free(owners[j], offsets[j])) {
                throw new IllegalStateException("pre-population free refused");
            }
        }
        fillLive(offsets);
    }

    /** Builds the state on a new {@link BlockAllocator} through its public API. */
    BlockAllocator populate() {
        BlockAllocator a = new BlockAllocator(regionSize, ALIGNMENT);
        populate(Target.of(a));
        return a;
    }

    /** The identical state for the reference model, laid out directly (see {@link ReferenceAllocator#laidOut}). */
    ReferenceAllocator populateReference() {
        long[] lens = new long[requests.length];
        long[] offsets = new long[requests.length];
        int[] finalOwners = owners.clone();
        long pos = 0;
        for (int j = 0; j < requests.length; j++) {
            lens[j] = rounded(requests[j]);
            offsets[j] = pos;
            pos += lens[j];
        }
        for (int i = live; i < order.length; i++) {
            finalOwners[order[i]] = -1;
        }
        fillLive(offsets);
        return ReferenceAllocator.laidOut(regionSize, ALIGNMENT, lens, finalOwners);
    }

    private void fillLive(long[] offsets) {
        for (int i = 0; i < live; i++) {
            liveOffsets[i] = offsets[order[i]];
            liveOwners[i] = owners[order[i]];
        }
    }

    /** xorshift64*: a cheap, allocation-free random step for the measured loop. */
    static long next(long state) {
        state ^= state >>> 12;
        state ^= state << 25;
        state ^= state >>> 27;
        return state;
    }

    static long mixed(long state) {
        return state * 0x2545_F491_4F6C_DD1DL;
    }
}
