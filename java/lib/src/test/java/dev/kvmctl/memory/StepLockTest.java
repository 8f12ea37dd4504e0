package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * {@link StepLock} alone: mutual exclusion under contention, waiters that nap until a long holder
 * lets go, and an interrupt that neither ends a wait nor gets lost. Every wait below ends on the
 * state it needs (a thread seen napping, a join), never on a sleep; the timeout only turns a hang
 * (a lock never given back) into a failure.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class StepLockTest {
    private final StepLock lock = new StepLock();
    /** Guarded by {@link #lock}; deliberately not atomic or volatile. */
    private long counter;

    @Test
    void onlyOneHolderAtATime() throws InterruptedException {
        int threads = 4;
        int rounds = 200_000;
        List<Thread> started = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            started.add(started(() -> {
                for (int i = 0; i < rounds; i++) {
                    lock.lock();
                    try {
                        counter++; // a lost update would show in the total
                    } finally {
                        lock.unlock();
                    }
                }
            }));
        }
        for (Thread t : started) {
            t.join();
        }
        assertEquals((long) threads * rounds, counter);
        assertFalse(lock.isHeld());
    }

    @Test
    void waitersNapWhileALongHolderKeepsItThenAllGetIn() throws InterruptedException {
        lock.lock();
        List<Thread> waiters = new ArrayList<>();
        for (int t = 0; t < 2; t++) {
            waiters.add(started(() -> {
                lock.lock();
                try {
                    counter++;
                } finally {
                    lock.unlock();
                }
            }));
        }
        for (Thread w : waiters) {
            awaitNapping(w);
        }
        assertEquals(0, counter, "nobody got in while the lock was held");
        lock.unlock();
        for (Thread w : waiters) {
            w.join();
        }
        assertEquals(2, counter);
    }

    @Test
    void anInterruptDoesNotEndTheWaitAndIsKept() throws InterruptedException {
        AtomicBoolean interruptedInside = new AtomicBoolean();
        lock.lock();
        Thread waiter = started(() -> {
            lock.lock();
            try {
                counter++;
                interruptedInside.set(Thread.currentThread().isInterrupted());
            } finally {
                lock.unlock();
            }
        });
        waiter.interrupt();
        awaitNapping(waiter); // it naps again after clearing the interrupt: the wait goes on
        assertEquals(0, counter);
        lock.unlock();
        waiter.join();
        assertEquals(1, counter);
        assertTrue(interruptedInside.get(), "the interrupt status is set again once the lock is taken");
    }

    private static Thread started(Runnable body) {
        Thread t = new Thread(body, "StepLockTest");
        t.start();
        return t;
    }

    /** Returns once {@code t} is parked in a timed nap, which a waiter reaches after its spins. */
    private static void awaitNapping(Thread t) {
        while (t.getState() != Thread.State.TIMED_WAITING) {
            assertTrue(t.isAlive(), "the waiter ended without the lock");
            Thread.onSpinWait();
        }
    }
}
