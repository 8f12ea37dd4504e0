package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * {@link UserFaultFd#awaitFault}: the thread that serves faults sleeps in {@code poll(2)} until a
 * touch waits, instead of spinning on {@link UserFaultFd#nextFault()} (a restore's loader waits
 * so while the machine is built, leaving the CPU to it).
 */
class UserFaultFdTest {
    private static final long PAGE = GuestMemory.PAGE_SIZE;

    /** Nothing waits: a look without waiting says so, and so does a bounded wait. */
    @Test
    void withNothingWaitingItSaysSo() {
        try (GuestMemory ram = GuestMemory.memfd("uffd-idle", 4 * PAGE); UserFaultFd uffd = UserFaultFd.register(ram)) {
            assertFalse(uffd.awaitFault(0));
            assertFalse(uffd.awaitFault(1));
            assertEquals(-1, uffd.nextFault());
        }
    }

    /**
     * A touch from another thread wakes the waiter: it sees the fault, serves it, and the
     * toucher reads what was put there. The wait has no limit that the test depends on: it ends
     * on the touch.
     */
    @Test
    void aTouchWakesTheWaiterWhichServesIt() throws InterruptedException {
        try (GuestMemory ram = GuestMemory.memfd("uffd-wake", 4 * PAGE); UserFaultFd uffd = UserFaultFd.register(ram)) {
            AtomicLong read = new AtomicLong(-1);
            Thread toucher = new Thread(() -> read.set(ram.getLong(2 * PAGE + 8)), "uffd-toucher");
            toucher.start();
            while (!uffd.awaitFault(60_000)) {
                // a signal cut the wait short: look again
            }
            long at = uffd.nextFault();
            assertEquals(2 * PAGE, at & -PAGE, "the touched page");
            assertTrue(uffd.zero(at & -PAGE, PAGE));
            toucher.join();
            assertEquals(0, read.get(), "the page was served as zeros");
            assertFalse(uffd.awaitFault(0), "nothing waits any more");
        }
    }
}
