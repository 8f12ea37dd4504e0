package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import java.io.ByteArrayOutputStream;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The restore tests' fixture: sse-compute's whole output when it runs uninterrupted, and a
 * snapshot of it stopped after its first line (before its computation) with what it had printed
 * by then. A restore that continues exactly prints {@code uninterrupted} minus {@code before}.
 *
 * @param file the snapshot
 * @param before what the guest printed before it was stopped
 * @param uninterrupted what the guest prints when it runs to its end without a stop
 */
record StoppedSseSnapshot(Path file, String before, String uninterrupted) {
    /** sse-compute's rounds: enough work for a stop after the first line to land before the end. */
    static final long ITERATIONS = 300;

    /** Runs sse-compute once to its end, then again to its first line, and writes that to {@code dir/good.snap}. */
    static StoppedSseSnapshot take(Path dir) {
        String full = runUninterrupted();
        Path good = dir.resolve("good.snap");
        return new StoppedSseSnapshot(good, writeStoppedAfterFirstLine(good), full);
    }

    /** {@return what sse-compute prints when it runs to its end without a stop} */
    static String runUninterrupted() {
        ByteArrayOutputStream full = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", full, false, ITERATIONS)) {
            assertTrue(m.run(Duration.ofSeconds(60)).succeeded());
        }
        return full.toString();
    }

    /** Runs sse-compute to its first line, stops it there and writes its snapshot to {@code file}; returns what it printed. */
    static String writeStoppedAfterFirstLine(Path file) {
        StopAfterLines out = new StopAfterLines(1);
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", out, false, ITERATIONS)) {
            out.stopping(m);
            assertEquals(Outcome.STOPPED, m.run(Duration.ofSeconds(60)).outcome());
            Snapshot.write(m, file, done -> {});
        }
        return out.toString();
    }
}
