package dev.kvmctl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code kvmctl launch --cpus N}: every vCPU enters the image with its index, and the SMP guest's
 * vCPUs reach their exact result through shared memory, on its own thread or switched with others.
 */
class SmpCliTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void anSmpGuestRunsToItsExactResult() {
        Cli r = Cli.run("launch", "--image", "smp-counter", "--cpus", "3", "--arg", "20", "--timeout", "120s");
        assertEquals(0, r.status(), r.describe());
        assertTrue(r.out().contains("smp-counter: cpus=3 token=60 counter="), r.describe());
        for (int i = 0; i < 3; i++) {
            assertTrue(r.out().contains("smp-counter: cpu " + i + " hops=20 "), r.describe());
        }
    }

    @Test
    void smpGuestsAreSwitchedColdOnOneThread() {
        Cli r = Cli.run("launch", "--image", "smp-counter", "--image", "smp-counter", "--cpus", "2", "--arg", "15",
                "--one-thread", "--switch", "cold", "--timeout", "120s");
        assertEquals(0, r.status(), r.describe());
        assertEquals(2, r.out().split("cpus=2 token=30 counter=", -1).length - 1, r.describe());
    }
}
