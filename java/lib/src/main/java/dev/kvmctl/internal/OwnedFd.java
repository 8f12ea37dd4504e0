package dev.kvmctl.internal;

import dev.kvmctl.internal.bridge.LibC;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A file descriptor with one owner. {@link #get()} refuses a closed descriptor with a message that
 * names what was closed, so a stale number is never handed to the kernel; {@link #close()} closes
 * it exactly once, whichever thread gets there first.
 *
 * <p>A call that hands the number to the kernel brackets itself with {@link #acquire()} and
 * {@link #release()}: while any such call is in flight, {@link #close()} only marks the descriptor
 * closed and the last {@code release()} closes it. Without this, a thread could fetch the number,
 * another close it and open something else that reuses the number, and the first thread's ioctl
 * would reach the wrong object (another vCPU, another VM). Two atomic operations per call, no
 * allocation.
 */
public final class OwnedFd implements AutoCloseable {
    private static final VarHandle STATE;

    static {
        try {
            STATE = MethodHandles.lookup().findVarHandle(OwnedFd.class, "state", int.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    /** Bit 0 of {@link #state}: {@link #close()} was called. */
    private static final int CLOSED = 1;
    /** What one call in flight adds to {@link #state}. */
    private static final int CALL = 2;

    private final int fd;
    private final String what;
    /** {@link #CLOSED} plus {@link #CALL} times the calls in flight; the descriptor is closed when it reaches exactly {@code CLOSED}. */
    @SuppressWarnings("unused") // accessed through STATE
    private volatile int state;

    public OwnedFd(int fd, String what) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        this.fd = fd;
        this.what = what;
    }

    /**
     * The descriptor, or {@link IllegalStateException} if it was closed. For handing the number
     * to a caller; kvmctl's own kernel calls use {@link #acquire()}.
     */
    public int get() {
        if ((state & CLOSED) != 0) {
            throw closed();
        }
        return fd;
    }

    /**
     * The descriptor, kept open until the matching {@link #release()}; {@link IllegalStateException}
     * if it was closed.
     */
    public int acquire() {
        while (true) {
            int s = state;
            if ((s & CLOSED) != 0) {
                throw closed();
            }
            if (STATE.compareAndSet(this, s, s + CALL)) {
                return fd;
            }
        }
    }

    /** A kernel call on a descriptor with one argument word (an address, a number). */
    @FunctionalInterface
    public interface Call {
        /** Makes the call on {@code fd}; returns what the shim returns (a result or {@code -errno}). */
        int call(int fd, long arg);
    }

    /**
     * {@code op} on the descriptor, kept open for the call's duration: {@link #acquire()}, the
     * call, {@link #release()}. Allocates nothing for a non-capturing {@code op}.
     */
    public int call(Call op, long arg) {
        int f = acquire();
        try {
            return op.call(f, arg);
        } finally {
            release();
        }
    }

    /** Ends a call begun by {@link #acquire()}; the last one after {@link #close()} closes the descriptor. */
    public void release() {
        int s = (int) STATE.getAndAdd(this, -CALL) - CALL;
        if (s == CLOSED) {
            LibC.INSTANCE.close(fd);
        }
    }

    /** The number, open or not: for messages and diagnostics only. */
    public int number() {
        return fd;
    }

    /** Whether {@link #close()} was called (the descriptor itself may still be open for a call in flight). */
    public boolean isClosed() {
        return (state & CLOSED) != 0;
    }

    /** Whether {@link #close()} was called and no call is in flight any more: the descriptor is closed. */
    public boolean isReleased() {
        return state == CLOSED;
    }

    /** Marks the descriptor closed; closes it now, or when the last call in flight ends. */
    @Override
    public void close() {
        int before = (int) STATE.getAndBitwiseOr(this, CLOSED);
        if (before == 0) {
            LibC.INSTANCE.close(fd);
        }
    }

    private IllegalStateException closed() {
        return new IllegalStateException(what + " is closed");
    }

    @Override
    public String toString() {
        return what + " (fd " + fd + (isClosed() ? ", closed)" : ")");
    }
}
