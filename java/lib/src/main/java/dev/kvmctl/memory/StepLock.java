package dev.kvmctl.memory;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.locks.LockSupport;

/**
 * {@link BlockAllocator}'s mutual exclusion: one compare-and-set to take it, one plain release store
 * to give it back. A monitor (or a {@code ReentrantLock}) costs a second atomic instruction on
 * release, and on x86 each atomic instruction also waits for every earlier store to reach the
 * cache; an allocator step at 100 live blocks takes about 100 ns, and that second atomic was 5-9 % of
 * it (docs/allocator.md).
 *
 * <p>The price of the plain release is that it wakes nobody: a waiter spins for a while
 * ({@value #SPINS} rounds of {@code Thread.onSpinWait}: a few to some tens of microseconds, by CPU), then
 * sleeps in naps that grow from {@value #FIRST_NAP_NANOS} ns to {@value #LONGEST_NAP_NANOS} ns and
 * looks again. Steps hold the lock for a fraction of a microsecond, so waiters almost always get it
 * while spinning; only the O(n) calls ({@code freeAll}, {@code checkInvariants}) make them nap, and
 * those take far longer than a nap.
 *
 * <p>Not reentrant (the allocator's public methods never call one another while holding it), not
 * fair. Interrupts do not stop a waiter: the interrupt status is kept and set again once the lock is
 * taken, as with {@code synchronized}.
 */
final class StepLock {
    /** Spin rounds ({@code Thread.onSpinWait}) before the first nap. */
    static final int SPINS = 1 << 10;
    /** The first nap; each next one is twice as long ... */
    static final long FIRST_NAP_NANOS = 1_000;
    /** ... up to this: how late a napping waiter may notice that the lock is free. */
    static final long LONGEST_NAP_NANOS = 100_000;
    private static final VarHandle HELD;

    static {
        try {
            HELD = MethodHandles.lookup().findVarHandle(StepLock.class, "held", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** 1 while held; written through {@link #HELD}. */
    private volatile int held;

    /** Takes the lock, waiting as long as it takes. */
    void lock() {
        if (!HELD.compareAndSet(this, 0, 1)) {
            contended();
        }
    }

    /** Gives the lock back; only its holder may call this. */
    void unlock() {
        HELD.setRelease(this, 0);
    }

    /** {@return whether some thread holds the lock now, for tests} */
    boolean isHeld() {
        return held != 0;
    }

    private void contended() {
        boolean interrupted = false;
        long nap = FIRST_NAP_NANOS;
        for (int round = 0; ; round++) {
            // Read before trying, so waiters do not keep the line busy with failing atomics.
            if (held == 0 && HELD.compareAndSet(this, 0, 1)) {
                break;
            }
            if (round < SPINS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(this, nap);
                nap = Math.min(2 * nap, LONGEST_NAP_NANOS);
                // An interrupt makes parkNanos return at once: clear it, or the wait would spin.
                interrupted |= Thread.interrupted();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }
}
