package dev.kvmctl.memory;

/**
 * The allocator benchmarks' measured step ({@link AllocatorBenchmark}, {@link AllocatorFloorBenchmark}):
 * free a random live block, then allocate a random size (1 to 4096 bytes) for a random one of four
 * owners, so the live count stays N. Subclasses name the allocator; the random numbers, the live
 * blocks' arrays and the checks are the same for all, so their figures compare.
 */
abstract class PairStep implements AllocatorWorkload.Target {
    private long rnd = AllocatorWorkload.SEED;
    private final long[] offsets;
    private final int[] owners;

    /** A step over {@code w}'s live blocks (filled by {@link AllocatorWorkload#populate(AllocatorWorkload.Target)}). */
    PairStep(AllocatorWorkload w) {
        offsets = w.liveOffsets;
        owners = w.liveOwners;
    }

    /** {@return one step's new offset}; throws if the allocator refuses what it must allow */
    final long run() {
        long r = rnd = AllocatorWorkload.next(rnd);
        long m = AllocatorWorkload.mixed(r);
        int i = (int) (((m >>> 32) * offsets.length) >>> 32);
        if (!free(owners[i], offsets[i])) {
            throw new IllegalStateException("free refused");
        }
        int owner = (int) (m >>> 30) & (AllocatorWorkload.OWNERS - 1);
        long bytes = 1 + (((m & 0x3FFF_FFFFL) * AllocatorWorkload.MAX_REQUEST) >>> 30);
        long offset = allocate(owner, bytes);
        if (offset < 0) {
            throw new IllegalStateException("allocation refused");
        }
        offsets[i] = offset;
        owners[i] = owner;
        return offset;
    }

    /** The step on {@link BlockAllocator}, through its public API. */
    static final class OnBlockAllocator extends PairStep {
        private final BlockAllocator allocator;

        OnBlockAllocator(AllocatorWorkload w, BlockAllocator allocator) {
            super(w);
            this.allocator = allocator;
        }

        @Override
        public boolean free(int owner, long offset) {
            return allocator.free(owner, offset).isDone();
        }

        @Override
        public long allocate(int owner, long bytes) {
            return allocator.allocate(owner, bytes) instanceof AllocationResult.Allocated ok ? ok.offset() : -1;
        }
    }
}
