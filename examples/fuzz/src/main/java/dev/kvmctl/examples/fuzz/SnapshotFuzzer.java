package dev.kvmctl.examples.fuzz;

import java.nio.charset.StandardCharsets;

/**
 * A snapshot fuzzer in a page: boots {@code fuzz-target.elf}, checkpoints it at its parser's
 * entry ({@link Target}), then loops: take a mutated input ({@link Mutator}), write it into guest
 * memory, run the parse to its end or a fault, reset the guest to the checkpoint (only the pages
 * the parse dirtied are copied back). It stops at the first crash, the planted bug, and prints
 * the input that found it, after how many executions and how long, and the executions per second.
 *
 * <pre>
 * mvn -q compile exec:java [-Dexec.args="--seed S --max-execs N"]
 * </pre>
 *
 * The search is deterministic for a seed (the guest is, and so is the mutator), so whether and
 * after how many executions it finds the bug does not depend on how fast the machine is. Exit
 * status 0 when found, 1 when {@code --max-execs} ran out first, 2 on bad options.
 */
public final class SnapshotFuzzer {
    private SnapshotFuzzer() {}

    public static void main(String[] args) {
        long seed = 1;
        long maxExecs = 1_000_000;
        for (int i = 0; i < args.length; i++) {
            String value = i + 1 < args.length ? args[i + 1] : null;
            if (args[i].equals("--seed") && value != null) {
                seed = Long.parseLong(value);
                i++;
            } else if (args[i].equals("--max-execs") && value != null && Long.parseLong(value) > 0) {
                maxExecs = Long.parseLong(value);
                i++;
            } else {
                System.err.println("usage: SnapshotFuzzer [--seed S] [--max-execs N (> 0)]; got '" + args[i] + "'");
                System.exit(2);
            }
        }
        System.exit(fuzz(seed, maxExecs) ? 0 : 1);
    }

    /** Fuzzes until the first crash or {@code maxExecs} executions; returns whether it crashed the guest. */
    static boolean fuzz(long seed, long maxExecs) {
        Mutator mutator = new Mutator(seed, "hello, fuzzer!!!".getBytes(StandardCharsets.US_ASCII));
        try (Target target = new Target()) {
            System.out.printf("fuzz-target.elf checkpointed at its parser's entry; seed %d, at most %,d executions%n", seed, maxExecs);
            long start = System.nanoTime();
            long lastReport = start;
            for (long execs = 1; execs <= maxExecs; execs++) {
                byte[] input = mutator.next();
                Target.Outcome outcome = target.execute(input);
                long now = System.nanoTime();
                if (outcome.crashed()) {
                    double seconds = (now - start) / 1e9;
                    System.out.printf("found the planted bug after %,d executions in %.3f s (%,.0f exec/s, corpus %d): %s%n",
                            execs, seconds, execs / seconds, mutator.corpusSize(), outcome.exit());
                    System.out.println("input: " + hex(input) + "  \"" + printable(input) + "\"");
                    return true;
                }
                if (mutator.learn(input, outcome) || now - lastReport > 1_000_000_000L) {
                    double seconds = (now - start) / 1e9;
                    System.out.printf("%,10d execs  %7.3f s  %,8.0f exec/s  corpus %d  checks passed 0x%x%n",
                            execs, seconds, execs / Math.max(seconds, 1e-9), mutator.corpusSize(), outcome.coverage());
                    lastReport = now;
                }
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            System.out.printf("no crash in %,d executions (%.3f s, %,.0f exec/s)%n", maxExecs, seconds, maxExecs / seconds);
            return false;
        }
    }

    private static String hex(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            s.append(s.length() == 0 ? "" : " ").append(String.format("%02x", b & 0xff));
        }
        return s.toString();
    }

    private static String printable(byte[] bytes) {
        StringBuilder s = new StringBuilder();
        for (byte b : bytes) {
            s.append(b >= 0x20 && b < 0x7f ? (char) b : '.');
        }
        return s.toString();
    }
}
