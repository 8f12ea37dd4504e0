package dev.kvmctl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code --timeout} holds in every mode, whatever the quantum: the spin guest never ends on its
 * own, so every run here must be stopped by the time limit (status 124). A 60 s quantum with a
 * 200 ms limit used to run the whole quantum in one-thread mode; the bound of 10 s is far above
 * the limit and far below the quantum, so no machine speed decides the verdict.
 */
class TimeoutTest {
    private static final Duration BOUND = Duration.ofSeconds(10);

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    private static Cli stoppedByTheLimit(String... options) {
        List<String> args = new ArrayList<>(List.of("launch"));
        args.addAll(List.of(options));
        args.addAll(List.of("--timeout", "200ms"));
        Cli r = Cli.run(args.toArray(String[]::new));
        String cmd = String.join(" ", args);
        System.out.println("timeout: " + cmd + ": status " + r.status() + " after " + r.took().toMillis() + " ms");
        assertTrue(r.took().compareTo(BOUND) < 0, cmd + ": the 200 ms limit was not honoured: " + r.describe());
        assertTrue(r.took().toMillis() >= 200, cmd + ": ended before its limit: " + r.describe());
        return r;
    }

    @Test
    void oneGuest() {
        assertEquals(124, stoppedByTheLimit("--image", "spin").status());
    }

    @Test
    void guestsOnTheirOwnThreads() {
        assertEquals(124, stoppedByTheLimit("--image", "spin", "--image", "spin").status());
    }

    @Test
    void oneThreadWithAQuantumLongerThanTheLimit() {
        Cli r = stoppedByTheLimit("--image", "spin", "--one-thread", "--quantum", "60s");
        assertEquals(124, r.status(), r.describe());
        assertTrue(r.err().contains("no result within the time limit"), r.describe());
    }

    @Test
    void oneThreadColdSwitchesBetweenTwoGuests() {
        Cli r = stoppedByTheLimit("--image", "spin", "--image", "spin", "--one-thread", "--switch", "cold", "--quantum", "60s");
        assertEquals(124, r.status(), r.describe());
    }

    @Test
    void theDemoSwitchingOnOneThread() {
        // Far more messages than 200 ms can carry: the limit ends it, a failed demo (status 1).
        Cli r = stoppedByTheLimit("--messages", "100000000", "--quantum", "60s");
        assertEquals(1, r.status(), r.describe());
    }

    @Test
    void theDemoOnThreads() {
        Cli r = stoppedByTheLimit("--messages", "100000000", "--threads");
        assertEquals(1, r.status(), r.describe());
    }
}
