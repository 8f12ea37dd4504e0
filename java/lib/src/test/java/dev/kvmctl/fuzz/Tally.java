package dev.kvmctl.fuzz;

import java.util.Map;
import java.util.TreeMap;

/** Counts of what happened, by label, printed as one line per category for the fuzz reports. */
final class Tally {
    private final String category;
    private final Map<String, Long> counts = new TreeMap<>();
    private long total;

    Tally(String category) {
        this.category = category;
    }

    synchronized void add(String label) {
        counts.merge(label, 1L, Long::sum);
        total++;
    }

    synchronized long total() {
        return total;
    }

    synchronized long count(String label) {
        return counts.getOrDefault(label, 0L);
    }

    /** A label for how a call ended: {@code ok}, or the exception's simple class name. */
    static String of(Throwable t) {
        return t == null ? "ok" : t.getClass().getSimpleName();
    }

    synchronized void print() {
        System.out.printf("fuzz: %-34s %6d tried: %s%n", category, total, counts);
    }
}
