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
 *
 * <p>Thread-safe: a switcher records while another thread reads.
 */
public final class LatencyRecorder {
    /** An empty recorder. */
    public LatencyRecorder() {}

    private long[] samples = new long[1024];
    private int count;
    private boolean sorted = true;

    /**
     * Adds a sample.
     *
     * @param nanos a duration in nanoseconds
     */
    public synchronized void record(long nanos) {
        if (count == samples.length) {
            samples = Arrays.copyOf(samples, count * 2);
        }
        samples[count++] = nanos;
        sorted = false;
    }

    /** {@return how many samples were recorded} */
    public synchronized int count() {
        return count;
    }

    /** {@return the mean of the samples in nanoseconds; 0 with no samples} */
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

    /**
     * A percentile of the samples, by nearest rank.
     *
     * @param p the percentile, 0 to 100 (out of range is clamped: 0 gives the least sample, 100 the greatest)
     * @return the sample at that rank in nanoseconds; 0 with no samples
     */
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
