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
 * A yardstick for the machine, not an allocator: one {@code remove} plus one {@code put} on a
 * {@code java.util.TreeMap<Long, Long>} of N random keys. An allocate+free pair needs several ordered
 * index updates, so this bounds what any tree-based allocator can reach on the same hardware.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = AllocatorWorkload.WARMUP_ITERATIONS, time = AllocatorWorkload.ITERATION_SECONDS)
@Measurement(iterations = AllocatorWorkload.MEASUREMENT_ITERATIONS, time = AllocatorWorkload.ITERATION_SECONDS)
@Fork(value = AllocatorWorkload.FORKS, jvmArgsAppend = {AllocatorWorkload.HEAP_MIN, AllocatorWorkload.HEAP_MAX})
public class TreeMapReferenceBenchmark {
    /** How many keys the map holds throughout. */
    @Param({"100", "10000", "1000000"})
    public int liveBlocks;

    private TreeMap<Long, Long> map;
    private long[] keys;
    private long rnd = AllocatorWorkload.SEED;

    /** Fills the map (not measured). */
    @Setup(Level.Trial)
    public void setUp() {
        SplittableRandom r = new SplittableRandom(AllocatorWorkload.SEED);
        map = new TreeMap<>();
        keys = new long[liveBlocks];
        for (int i = 0; i < liveBlocks; i++) {
            keys[i] = r.nextLong();
            map.put(keys[i], keys[i]);
        }
    }

    /** One remove plus one put of a new random key. */
    @Benchmark
    public Long removeAndPut() {
        long r = rnd = AllocatorWorkload.next(rnd);
        long m = AllocatorWorkload.mixed(r);
        int i = (int) (((m >>> 32) * keys.length) >>> 32);
        map.remove(keys[i]);
        keys[i] = m;
        return map.put(m, r);
    }
}
