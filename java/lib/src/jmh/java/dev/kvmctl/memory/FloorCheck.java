package dev.kvmctl.memory;

/**
 * Run by {@code scripts/bench-allocator-floor.sh} before measuring: proves that
 * {@link FloorAllocator} with ties to the lowest address follows {@link BlockAllocator}'s rules to
 * the byte, so the floor does the same work and is not fast by doing less. From the benchmarks'
 * starting state at 100, 10,000 and 1,000,000 live blocks it runs {@value #STEPS} steps (free a
 * random live block, allocate a random size) on both and requires the same offset from every
 * allocation. (With ties to the most recently freed block the floor answers differently by
 * design; nothing checks those answers but the step's own refusal checks.)
 */
public final class FloorCheck {
    static final int STEPS = 200_000;

    private FloorCheck() {}

    /**
     * Exits non-zero on the first disagreement.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        for (int live : new int[] {100, 10_000, 1_000_000}) {
            AllocatorWorkload a = new AllocatorWorkload(live);
            PairStep real = new PairStep(a, AllocatorWorkload.Target.of(a.populate()));
            AllocatorWorkload b = new AllocatorWorkload(live);
            FloorAllocator floor = new FloorAllocator(b.regionSize, false);
            b.populate(floor);
            PairStep stripped = new PairStep(b, floor);
            for (int i = 0; i < live; i++) {
                if (a.liveOffsets[i] != b.liveOffsets[i]) {
                    fail(live, "the starting states differ at live block " + i);
                }
            }
            for (int step = 0; step < STEPS; step++) {
                long x = real.run();
                long y = stripped.run();
                if (x != y) {
                    fail(live, "step " + step + ": BlockAllocator gave offset " + x + ", the floor " + y);
                }
            }
            System.out.printf("floor check: %,d live blocks, %,d steps: identical offsets%n", live, STEPS);
        }
    }

    private static void fail(int live, String what) {
        System.out.printf("floor check FAILED at %,d live blocks: %s%n", live, what);
        System.exit(1);
    }
}
