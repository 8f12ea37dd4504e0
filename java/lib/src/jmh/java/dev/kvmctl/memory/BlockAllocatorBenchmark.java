package dev.kvmctl.memory;

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
 * Steady-state throughput of {@link BlockAllocator}: one operation is a free of a random live block
 * plus an allocation of a random size (1 to 4096 bytes) by a random owner, so the live count stays N.
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = AllocatorWorkload.WARMUP_ITERATIONS, time = AllocatorWorkload.ITERATION_SECONDS)
@Measurement(iterations = AllocatorWorkload.MEASUREMENT_ITERATIONS, time = AllocatorWorkload.ITERATION_SECONDS)
@Fork(value = AllocatorWorkload.FORKS, jvmArgsAppend = {AllocatorWorkload.HEAP_MIN, AllocatorWorkload.HEAP_MAX})
public class BlockAllocatorBenchmark {
    /** How many blocks are live throughout. */
    @Param({"100", "10000", "1000000"})
    public int liveBlocks;

    private BlockAllocator allocator;
    private long[] offsets;
    private int[] owners;
    private long rnd = AllocatorWorkload.SEED;

    /** Builds the fragmented starting state (not measured). */
    @Setup(Level.Trial)
    public void setUp() {
        AllocatorWorkload w = new AllocatorWorkload(liveBlocks);
        allocator = w.populate();
        offsets = w.liveOffsets;
        owners = w.liveOwners;
    }

    /** One free plus one allocate. */
    @Benchmark
    public long allocateAndFree() {
        long r = rnd = AllocatorWorkload.next(rnd);
        long m = AllocatorWorkload.mixed(r);
        int i = (int) (((m >>> 32) * offsets.length) >>> 32);
        if (!allocator.free(owners[i], offsets[i]).isDone()) {
            throw new IllegalStateException("free refused");
        }
        int owner = (int) (m >>> 30) & (AllocatorWorkload.OWNERS - 1);
        long bytes = 1 + (((m & 0x3FFF_FFFFL) * AllocatorWorkload.MAX_REQUEST) >>> 30);
        if (!(allocator.allocate(owner, bytes) instanceof AllocationResult.Allocated ok)) {
            throw new IllegalStateException("allocation refused");
        }
        offsets[i] = ok.offset();
        owners[i] = owner;
        return ok.offset();
    }
}
