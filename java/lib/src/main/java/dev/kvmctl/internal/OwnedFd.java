package dev.kvmctl.internal;

import dev.kvmctl.internal.bridge.LibC;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * A file descriptor with one owner. {@link #get()} refuses a closed descriptor with a message that
 * names what was closed, so a stale number is never handed to the kernel; {@link #close()} closes
 * it exactly once, whichever thread gets there first.
 */
public final class OwnedFd implements AutoCloseable {
    private static final VarHandle CLOSED;

    static {
        try {
            CLOSED = MethodHandles.lookup().findVarHandle(OwnedFd.class, "closed", boolean.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final int fd;
    private final String what;
    @SuppressWarnings("unused") // accessed through CLOSED
    private volatile boolean closed;

    public OwnedFd(int fd, String what) {
        if (fd < 0) {
            throw new IllegalArgumentException("not a file descriptor: " + fd);
        }
        this.fd = fd;
        this.what = what;
    }

    /** The descriptor, or {@link IllegalStateException} if it was closed. */
    public int get() {
        if (closed) {
            throw new IllegalStateException(what + " is closed");
        }
        return fd;
    }

    /** The number, open or not: for messages and diagnostics only. */
    public int number() {
        return fd;
    }

    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (CLOSED.compareAndSet(this, false, true)) {
            LibC.INSTANCE.close(fd);
        }
    }

    @Override
    public String toString() {
        return what + " (fd " + fd + (closed ? ", closed)" : ")");
    }
}
