package dev.kvmctl.memory;

import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Steady-state throughput of one allocator step, for each contender with the same JMH set-up (so
 * their error bars compare) and the same starting state ({@link AllocatorWorkload}):
 *
 * <ul>
 * <li>{@code BlockAllocator}: free a random live block, then allocate a random size (1 to 4096
 *     bytes) for a random one of four owners, so the live count stays N ({@link PairStep});
 * <li>{@code LinearScan}: the same step on {@link ReferenceAllocator}, the property tests'
 *     reference model, whose scans make it the linear-scan baseline (at a million live blocks one
 *     step takes milliseconds, so an iteration holds only a few hundred);
 * <li>{@code TreeMap}: a yardstick for the machine, not an allocator: one {@code remove} plus one
 *     {@code put} on a {@code java.util.TreeMap<Long, Long>} of N random keys.
 * </ul>
 *
 * <p>Each contender runs in its own fork, so the measured call site only ever sees one of them.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
// Ten warm-up seconds and three forks: with five and two, forks of one version differed by up to
// 25 % (how C2 compiled the step); with ten, four forks at 100 live blocks agreed within 4 %, and a
// third fork narrows JMH's interval around that spread (docs/allocator.md).
@Warmup(iterations = 10, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 3, jvmArgsAppend = {"-Xms3g", "-Xmx3g"})
public class AllocatorBenchmark {
    /** How many blocks (or keys) are live throughout. */
    @Param({"100", "10000", "1000000"})
    public int liveBlocks;

    /** Which implementation runs the step. */
    @Param({"BlockAllocator", "LinearScan", "TreeMap"})
    public String contender;

    private PairStep pair;
    private TreeMapStep tree;

    /** Builds the contender's starting state (not measured). */
    @Setup(Level.Trial)
    public void setUp() {
        AllocatorWorkload w = new AllocatorWorkload(liveBlocks);
        switch (contender) {
            case "BlockAllocator" -> pair = new PairStep(w, AllocatorWorkload.Target.of(w.populate()));
            case "LinearScan" -> pair = new PairStep(w, new OnReference(w.populateReference()));
            case "TreeMap" -> tree = new TreeMapStep(liveBlocks);
            default -> throw new IllegalArgumentException("unknown contender " + contender);
        }
    }

    /** {@return one step (for the allocators: one free plus one allocate)} */
    @Benchmark
    public long step() {
        return pair != null ? pair.run() : tree.run();
    }

    /** The linear-scan baseline seen as the step's two calls. */
    private static final class OnReference implements AllocatorWorkload.Target {
        private final ReferenceAllocator allocator;

        OnReference(ReferenceAllocator allocator) {
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

    /** The yardstick: one remove and one put on a TreeMap of N random keys. */
    private static final class TreeMapStep {
        private final TreeMap<Long, Long> map = new TreeMap<>();
        private final long[] keys;
        private long rnd = AllocatorWorkload.SEED;

        TreeMapStep(int live) {
            SplittableRandom r = new SplittableRandom(AllocatorWorkload.SEED);
            keys = new long[live];
            for (int i = 0; i < live; i++) {
                keys[i] = r.nextLong();
                map.put(keys[i], keys[i]);
            }
        }

        long run() {
            long r = rnd = AllocatorWorkload.next(rnd);
            long m = AllocatorWorkload.mixed(r);
            int i = (int) (((m >>> 32) * keys.length) >>> 32);
            map.remove(keys[i]);
            keys[i] = m;
            Long previous = map.put(m, r);
            return previous == null ? m : previous;
        }
    }
}
