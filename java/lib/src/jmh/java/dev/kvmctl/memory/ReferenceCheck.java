package dev.kvmctl.memory;

import java.util.SplittableRandom;

/**
 * Run by {@code scripts/bench-allocator.sh} before measuring: proves the baseline is the same method,
 * so the comparison is fair. From the benchmarks' starting state at each size the benchmarks use
 * (100, 10,000 and 1,000,000 live blocks) it drives {@link BlockAllocator} and
 * {@link ReferenceAllocator} (the linear-scan baseline) with the same random operations (valid and invalid) and requires
 * identical answers, then checks BlockAllocator's invariants. Each baseline operation costs
 * O(n), so the number of operations shrinks as the size grows: at 1,000,000 live blocks only the
 * first {@value #OPS_AT_A_MILLION} operations of the random sequence are checked (a few seconds),
 * after the starting states' stats were compared.
 */
public final class ReferenceCheck {
    /** Operations checked at 1,000,000 live blocks, where each baseline operation takes milliseconds. */
    static final int OPS_AT_A_MILLION = 2_000;

    private ReferenceCheck() {}

    /**
     * Exits non-zero on the first disagreement.
     *
     * @param args ignored
     */
    public static void main(String[] args) {
        check(100, 200_000);
        check(10_000, 20_000);
        check(1_000_000, OPS_AT_A_MILLION);
        System.out.println("baseline check: ReferenceAllocator and BlockAllocator agree");
    }

    private static void check(int live, int ops) {
        AllocatorWorkload w = new AllocatorWorkload(live);
        BlockAllocator real = w.populate();
        long[] offsets = w.liveOffsets.clone();
        int[] owners = w.liveOwners.clone();
        ReferenceAllocator list = new AllocatorWorkload(live).populateReference();
        same(real.stats(), list.stats(), "stats after pre-population");
        SplittableRandom rnd = new SplittableRandom(live);
        for (int k = 0; k < ops; k++) {
            int i = rnd.nextInt(live);
            int owner = rnd.nextInt(AllocatorWorkload.OWNERS);
            switch (rnd.nextInt(8)) {
                case 0 -> same(real.free(owner, offsets[i]), list.free(owner, offsets[i]), "free, any owner");
                case 1 -> {
                    long off = rnd.nextLong(w.regionSize + 128);
                    same(real.free(owner, off), list.free(owner, off), "free, random offset");
                }
                case 2 -> same(real.transfer(owners[i], offsets[i], owner),
                        list.transfer(owners[i], offsets[i], owner), "transfer");
                case 3 -> {
                    long bytes = rnd.nextInt(20) == 0 ? rnd.nextLong(-10, w.regionSize * 2) : 1 + rnd.nextLong(8192);
                    same(real.allocate(owner, bytes), list.allocate(owner, bytes), "allocate");
                }
                default -> {
                    // The benchmark's own step: free a live block, allocate a new one in its slot.
                    BlockResult freed = real.free(owners[i], offsets[i]);
                    same(freed, list.free(owners[i], offsets[i]), "steady-state free");
                    long bytes = 1 + rnd.nextLong(AllocatorWorkload.MAX_REQUEST);
                    AllocationResult got = real.allocate(owner, bytes);
                    same(got, list.allocate(owner, bytes), "steady-state allocate");
                    if (got instanceof AllocationResult.Allocated ok) {
                        offsets[i] = ok.offset();
                        owners[i] = owner;
                    }
                }
            }
        }
        real.checkInvariants();
        same(real.stats(), list.stats(), "stats at the end");
        System.out.printf("baseline check: %,d live blocks, %,d operations: identical answers%n", live, ops);
    }

    private static void same(Object real, Object list, String what) {
        if (!real.equals(list)) {
            System.err.println("baseline check FAILED at " + what + ": BlockAllocator " + real
                    + ", ReferenceAllocator " + list);
            System.exit(1);
        }
    }
}
