package dev.kvmctl.fuzz;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * What one Jazzer fuzz target did: how many inputs it was given and how each ended (accepted, or
 * refused with the documented exception or status). The fuzz tests print it after their run and
 * write it to {@code target/fuzz/<target>.count}, where {@code scripts/fuzz.sh} reads the number
 * of inputs tried. Also measures the heap a call allocates, for the targets' allocation bounds.
 */
public final class FuzzCount {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    private final String target;
    private final Map<String, Long> outcomes = new TreeMap<>();
    private final long started = System.nanoTime();
    private long inputs;

    /** Counts for the target called {@code target} (the name the script and the docs use). */
    public FuzzCount(String target) {
        this.target = target;
    }

    /**
     * One more input, which ended as {@code outcome} ("accepted", "refused: ...", ...). Counters
     * added with {@link #tally} are reported with a leading "+".
     */
    public synchronized void add(String outcome) {
        inputs++;
        outcomes.merge(outcome, 1L, Long::sum);
    }

    /** Adds {@code n} to the counter {@code name} (calls, requests, ...), reported beside the outcomes. */
    public synchronized void tally(String name, long n) {
        outcomes.merge("+" + name, n, Long::sum);
    }

    /**
     * A refusal's message as an outcome label: numbers become N, so that the same check gives the
     * same label whatever the input held; {@code name} (the input's name in messages) becomes F.
     */
    public static String reason(Throwable e, String name) {
        return String.valueOf(e.getMessage()).replace(name, "F")
                .replaceAll("(?<![A-Za-z0-9_-])(0x[0-9a-fA-F]+|-?[0-9]+)", "N");
    }

    /** Inputs so far. */
    public synchronized long inputs() {
        return inputs;
    }

    /** Prints one line and writes {@code target/fuzz/<target>.count} (inputs, then each outcome). */
    public synchronized void report() {
        double seconds = (System.nanoTime() - started) / 1e9;
        System.out.printf("fuzz %s: %d inputs in %.1f s: %s%n", target, inputs, seconds, outcomes);
        StringBuilder file = new StringBuilder().append("inputs=").append(inputs).append('\n')
                .append("seconds=").append(String.format("%.1f", seconds)).append('\n');
        outcomes.forEach((k, v) -> file.append("outcome.").append(k.replace(' ', '_')).append('=').append(v).append('\n'));
        try {
            Path dir = Path.of("target", "fuzz");
            Files.createDirectories(dir);
            Files.writeString(dir.resolve(target + ".count"), file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Heap bytes this thread has allocated so far (HotSpot's per-thread counter). */
    public static long allocatedBytes() {
        return THREADS.getCurrentThreadAllocatedBytes();
    }
}
