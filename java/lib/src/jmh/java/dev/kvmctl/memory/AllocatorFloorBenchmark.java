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
 * The floor study (scripts/bench-allocator-floor.sh, docs/allocator.md): how fast could any
 * allocator with {@link BlockAllocator}'s rules go on this machine? The same step and starting
 * state as {@link AllocatorBenchmark} ({@link PairStep}, {@link AllocatorWorkload}), on
 * {@code BlockAllocator} and on {@link FloorAllocator} (the cheapest layout found, and nothing but
 * allocating), the latter behind three locks and with two tie rules:
 *
 * <ul>
 * <li>{@code floor-monitor-*}: {@code synchronized}; {@code floor-steplock-*}: {@link StepLock},
 *     as {@code BlockAllocator}; {@code floor-none-*}: no lock;
 * <li>{@code *-address}: among idle blocks of one size the lowest address ({@code BlockAllocator}'s
 *     rule); {@code *-recent}: the most recently freed.
 * </ul>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.SECONDS)
@Warmup(iterations = 5, time = 1)
@Measurement(iterations = 5, time = 1)
// The floor's tags take 4 bytes per 64-byte unit: 512 MiB for the 8 GiB region of a million blocks.
@Fork(value = 2, jvmArgsAppend = {"-Xms4g", "-Xmx4g"})
public class AllocatorFloorBenchmark {
    /** How many blocks are live throughout. */
    @Param({"100", "1000000"})
    public int liveBlocks;

    /** Which allocator, lock and tie rule. */
    @Param({"BlockAllocator", "floor-monitor-address", "floor-monitor-recent", "floor-steplock-address",
            "floor-steplock-recent", "floor-none-address", "floor-none-recent"})
    public String variant;

    private PairStep step;

    /** Builds the variant's starting state (not measured). */
    @Setup(Level.Trial)
    public void setUp() {
        AllocatorWorkload w = new AllocatorWorkload(liveBlocks);
        if (variant.equals("BlockAllocator")) {
            step = new PairStep(w, AllocatorWorkload.Target.of(w.populate()));
            return;
        }
        String[] v = variant.split("-");
        boolean recent = switch (v[2]) {
            case "address" -> false;
            case "recent" -> true;
            default -> throw new IllegalArgumentException("unknown tie rule " + v[2]);
        };
        FloorAllocator f = new FloorAllocator(w.regionSize, recent);
        AllocatorWorkload.Target target = switch (v[1]) {
            case "monitor" -> new Monitor(f);
            case "steplock" -> new Locked(f);
            case "none" -> f;
            default -> throw new IllegalArgumentException("unknown lock " + v[1]);
        };
        w.populate(target);
        step = new PairStep(w, target);
    }

    /** {@return one step: one free plus one allocate} */
    @Benchmark
    public long step() {
        return step.run();
    }

    /** The floor behind {@code synchronized}. */
    private static final class Monitor implements AllocatorWorkload.Target {
        private final FloorAllocator f;

        Monitor(FloorAllocator f) {
            this.f = f;
        }

        @Override
        public synchronized boolean free(int owner, long offset) {
            return f.free(owner, offset);
        }

        @Override
        public synchronized long allocate(int owner, long bytes) {
            return f.allocate(owner, bytes);
        }
    }

    /** The floor behind a {@link StepLock}, as {@code BlockAllocator}'s calls are. */
    private static final class Locked implements AllocatorWorkload.Target {
        private final FloorAllocator f;
        private final StepLock lock = new StepLock();

        Locked(FloorAllocator f) {
            this.f = f;
        }

        @Override
        public boolean free(int owner, long offset) {
            lock.lock();
            try {
                return f.free(owner, offset);
            } finally {
                lock.unlock();
            }
        }

        @Override
        public long allocate(int owner, long bytes) {
            lock.lock();
            try {
                return f.allocate(owner, bytes);
            } finally {
                lock.unlock();
            }
        }
    }
}
