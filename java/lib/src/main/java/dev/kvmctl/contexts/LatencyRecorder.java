package dev.kvmctl.contexts;

import java.util.Arrays;

/**
 * Durations in nanoseconds, for switch statistics: count, mean and percentiles. Keeps every
 * sample (eight bytes each), which is fine for the millions of switches a run can make.
 *
 * <pre>{@code
 * LatencyRecorder r = new LatencyRecorder();
 * r.record(120_000);
 * long p99 = r.percentile(99);
 * }</pre>
 */
public final class LatencyRecorder {
    private long[] samples = new long[1024];
    private int count;
    private boolean sorted = true;

    public synchronized void record(long nanos) {
        if (count == samples.length) {
            samples = Arrays.copyOf(samples, count * 2);
        }
        samples[count++] = nanos;
        sorted = false;
    }

    public synchronized int count() {
        return count;
    }

    public synchronized double meanNanos() {
        if (count == 0) {
            return 0;
        }
        double sum = 0;
        for (int i = 0; i < count; i++) {
            sum += samples[i];
        }
        return sum / count;
    }

    /** The {@code p}-th percentile (0-100), nearest rank; 0 with no samples. */
    public synchronized long percentile(double p) {
        if (count == 0) {
            return 0;
        }
        if (!sorted) {
            Arrays.sort(samples, 0, count);
            sorted = true;
        }
        int rank = (int) Math.ceil(p / 100.0 * count) - 1;
        return samples[Math.max(0, Math.min(count - 1, rank))];
    }

    @Override
    public String toString() {
        return String.format("n=%d mean=%.1fus p50=%.1fus p99=%.1fus", count(), meanNanos() / 1e3,
                percentile(50) / 1e3, percentile(99) / 1e3);
    }
}
