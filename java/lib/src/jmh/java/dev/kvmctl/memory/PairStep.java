package dev.kvmctl.memory;

/**
 * The allocator benchmarks' measured step ({@link AllocatorBenchmark}, {@link AllocatorFloorBenchmark}):
 * free a random live block, then allocate a random size (1 to 4096 bytes) for a random one of four
 * owners, so the live count stays N. The target names the allocator; the random numbers, the live
 * blocks' arrays and the checks are the same for all, so their figures compare.
 */
final class PairStep {
    private final AllocatorWorkload.Target target;
    private long rnd = AllocatorWorkload.SEED;
    private final long[] offsets;
    private final int[] owners;

    /**
     * A step of {@code target} over {@code w}'s live blocks (filled by
     * {@link AllocatorWorkload#populate(AllocatorWorkload.Target)}).
     */
    PairStep(AllocatorWorkload w, AllocatorWorkload.Target target) {
        this.target = target;
        offsets = w.liveOffsets;
        owners = w.liveOwners;
    }

    /** {@return one step's new offset}; throws if the allocator refuses what it must allow */
    long run() {
        long r = rnd = AllocatorWorkload.next(rnd);
        long m = AllocatorWorkload.mixed(r);
        int i = (int) (((m >>> 32) * offsets.length) >>> 32);
        if (!target.free(owners[i], offsets[i])) {
            throw new IllegalStateException("free refused");
        }
        int owner = (int) (m >>> 30) & (AllocatorWorkload.OWNERS - 1);
        long bytes = 1 + (((m & 0x3FFF_FFFFL) * AllocatorWorkload.MAX_REQUEST) >>> 30);
        long offset = target.allocate(owner, bytes);
        if (offset < 0) {
            throw new IllegalStateException("allocation refused");
        }
        offsets[i] = offset;
        owners[i] = owner;
        return offset;
    }
}
