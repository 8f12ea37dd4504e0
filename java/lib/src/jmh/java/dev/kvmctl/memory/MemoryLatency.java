package dev.kvmctl.memory;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Run by {@code scripts/bench-allocator-floor.sh} before measuring: the ceiling that memory latency
 * puts on any allocator with {@link BlockAllocator}'s rules under the benchmarks' step
 * ({@link PairStep}), whatever its layout.
 *
 * <p>It measures how long one read takes when its address depends on the read before (a pointer
 * chase through a random cycle, one {@code int} per 64-byte line) in arrays of {@link #SIZES_MIB}.
 * Then it bounds the step: freeing a random live block takes at least three such reads in a row,
 * each waiting for the one before: the step's own read of the block's offset (its live-block arrays),
 * the block's record (found from the offset: its size) and its upper neighbour's record (found from
 * the offset plus the size: whether to merge). The working set they fall in is at least the step's
 * arrays (12 bytes per live block) plus 8 bytes per live block for the records (a start and a size
 * each; idle blocks only add to it), so each read costs at least the latency of a chase through an
 * array that size, measured last. Two operations per step over three such reads is the ceiling,
 * with the allocation and everything else counted as free.
 */
public final class MemoryLatency {
    static final int[] SIZES_MIB = {4, 8, 16, 32, 64, 256};
    static final int ROUNDS = 5;
    static final int READS = 2_000_000;
    /** Bytes per live block that any allocator and the step read from: the step's offset and owner, a start and a size. */
    static final int BYTES_PER_LIVE_BLOCK = 8 + 4 + 8;

    private MemoryLatency() {}

    /**
     * Prints a markdown table of latencies, then the ceiling.
     *
     * @param args optionally the live blocks to bound the step for (default 1,000,000)
     */
    public static void main(String[] args) {
        int live = args.length > 0 ? Integer.parseInt(args[0]) : 1_000_000;
        System.out.println("| array | one dependent read (median of " + ROUNDS + " rounds of "
                + String.format("%,d", READS) + ") |");
        System.out.println("| ---: | ---: |");
        for (int mib : SIZES_MIB) {
            System.out.printf("| %d MiB | %.0f ns |%n", mib, dependentReadNanos((long) mib << 20));
        }
        long workingSet = (long) live * BYTES_PER_LIVE_BLOCK;
        double readNs = dependentReadNanos(workingSet);
        System.out.printf("| %.1f MiB (the working set) | %.0f ns |%n", workingSet / (double) (1 << 20), readNs);
        double stepNs = 3 * readNs;
        System.out.printf("%nceiling at %,d live blocks: three dependent reads in at least %.1f MiB (%.0f ns each)"
                + " = %.0f ns per step: at most %.2f M operations/s%n",
                live, workingSet / (double) (1 << 20), readNs, stepNs, 2e3 / stepNs);
    }

    /** {@return the median over {@link #ROUNDS} of the mean time of one read in a chase through {@code bytes} (rounded down to lines)} */
    static double dependentReadNanos(long bytes) {
        int stride = 64 / Integer.BYTES;
        int[] next = new int[Math.toIntExact(Math.max(1, bytes / 64) * stride)];
        int lines = next.length / stride;
        int[] order = new int[lines];
        Arrays.setAll(order, i -> i);
        SplittableRandom rnd = new SplittableRandom(AllocatorWorkload.SEED);
        for (int i = lines - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        for (int i = 0; i < lines; i++) {
            next[order[i] * stride] = order[(i + 1) % lines] * stride;
        }
        double[] rounds = new double[ROUNDS];
        int p = chase(next, 0, READS); // compiles the loop and warms the caches and TLB before timing
        for (int r = 0; r < ROUNDS; r++) {
            long t0 = System.nanoTime();
            p = chase(next, p, READS);
            rounds[r] = (double) (System.nanoTime() - t0) / READS;
        }
        if (p < 0) {
            throw new AssertionError(); // keeps the chase's result live
        }
        Arrays.sort(rounds);
        return rounds[ROUNDS / 2];
    }

    private static int chase(int[] next, int p, int reads) {
        for (int i = 0; i < reads; i++) {
            p = next[p];
        }
        return p;
    }
}
