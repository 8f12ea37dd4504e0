package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.LibC;

/**
 * A Linux eventfd: a counter the kernel can signal (an ioeventfd, when the guest writes a doorbell)
 * or wait on (an irqfd, to inject an interrupt). Owns its descriptor; once closed, every call
 * but {@link #close()}, {@link #isClosed()} and {@code toString()} refuses with
 * {@link IllegalStateException}. Closing it while a VM uses it is safe: the kernel keeps its own
 * reference until the VM lets go.
 *
 * <pre>{@code
 * try (EventFd doorbell = EventFd.create(false)) {
 *     vm.registerIoEvent(doorbell, Vm.IoSpace.PIO, 0x500, 4);
 *     ...
 *     long rings = doorbell.read();      // blocks until the guest wrote to port 0x500
 * }
 * }</pre>
 */
public final class EventFd implements AutoCloseable {
    /** What {@link #transfer} returns when the whole counter moved: no errno is negative. */
    private static final int MOVED = -1;
    private static final int POLLFD_SIZE = Layout.sizeOf("pollfd");
    private static final int POLLFD_FD = Layout.offsetOf("pollfd", "fd");
    private static final int POLLFD_EVENTS = Layout.offsetOf("pollfd", "events");
    private static final int POLLFD_REVENTS = Layout.offsetOf("pollfd", "revents");

    private final OwnedFd fd;
    private final byte[] readBuffer = new byte[8];
    private final byte[] writeBuffer = new byte[8];

    private EventFd(OwnedFd fd) {
        this.fd = fd;
    }

    /**
     * A new eventfd with counter 0. Issues {@code eventfd(2)}.
     *
     * @param nonBlocking true: {@link #read()} returns 0 instead of waiting when nothing was
     *     signalled
     * @return the new eventfd, which the caller closes
     * @throws KvmException naming {@code eventfd} ({@code EMFILE}: out of file descriptors)
     */
    public static EventFd create(boolean nonBlocking) {
        int flags = LibC.EFD_CLOEXEC | (nonBlocking ? LibC.EFD_NONBLOCK : 0);
        int fd = LibC.INSTANCE.eventfd(0, flags);
        if (fd < 0) {
            throw new KvmException("eventfd", LibC.errno());
        }
        return new EventFd(new OwnedFd(fd, "eventfd"));
    }

    /**
     * The descriptor, for callers that issue their own calls ({@link Vm#registerIoEvent} and
     * {@link Vm#registerIrqFd} need no help). The number is the caller's to guard: after
     * {@link #close()} it may name another file.
     *
     * @return the descriptor, owned by this eventfd (do not close it)
     * @throws IllegalStateException if this eventfd is closed
     */
    public int fd() {
        return fd.get();
    }

    /** The owned descriptor, for calls that hold it open while the kernel uses it. */
    OwnedFd handle() {
        return fd;
    }

    /**
     * Adds {@code value} to the counter, waking a reader. Issues {@code write(2)}; blocks while
     * the counter would overflow, unless created non-blocking.
     *
     * @param value how much to add, 1 or more (0 changes nothing)
     * @throws KvmException naming {@code write(eventfd)}: {@code EINVAL} for -1 (2^64 - 1, which
     *     the counter cannot hold), {@code EAGAIN} if the counter would overflow on a non-blocking
     *     eventfd
     * @throws IllegalStateException if this eventfd is closed
     */
    public void write(long value) {
        synchronized (writeBuffer) {
            for (int i = 0; i < 8; i++) {
                writeBuffer[i] = (byte) (value >>> (8 * i));
            }
            int errno = transfer(writeBuffer, true);
            if (errno != MOVED) {
                throw new KvmException("write(eventfd)", errno);
            }
        }
    }

    /**
     * Waits until at least one of {@code events} has been signalled, or {@code timeoutMillis}
     * passes. Consumes nothing: read the ready ones afterwards. Issues {@code poll(2)}.
     *
     * @param events the eventfds to watch; an empty list just waits out the timeout
     * @param timeoutMillis the most milliseconds to wait; 0 looks without waiting, negative waits
     *     without limit
     * @return whether any was signalled; false on the timeout, and when a signal (such as a
     *     {@link Vcpu#kick()} of this thread) interrupted the wait, so the caller looks again
     * @throws IllegalStateException if any of {@code events} is closed
     */
    public static boolean awaitAny(java.util.List<EventFd> events, int timeoutMillis) {
        java.nio.ByteBuffer fds = dev.kvmctl.internal.bridge.Memory.allocate(POLLFD_SIZE * Math.max(1, events.size()));
        for (int i = 0; i < events.size(); i++) {
            int at = POLLFD_SIZE * i;
            fds.putInt(at + POLLFD_FD, events.get(i).fd()).putShort(at + POLLFD_EVENTS, LibC.POLLIN)
                    .putShort(at + POLLFD_REVENTS, (short) 0);
        }
        int rc = LibC.INSTANCE.poll(dev.kvmctl.internal.bridge.Memory.addressOf(fds), events.size(), timeoutMillis);
        if (rc < 0) {
            int errno = LibC.errno();
            if (errno == LibC.EINTR) { // a kick or another signal; the caller looks again
                return false;
            }
            throw new KvmException("poll", errno);
        }
        return rc > 0;
    }

    /**
     * Signals once: adds 1 to the counter, as {@code write(1)} does.
     *
     * @throws KvmException as {@link #write(long)} does
     * @throws IllegalStateException if this eventfd is closed
     */
    public void signal() {
        write(1);
    }

    /**
     * Reads and resets the counter. Blocks until it is non-zero, unless created non-blocking, in
     * which case it returns 0 when nothing was signalled. Issues {@code read(2)}.
     *
     * @return the counter before the reset: how many signals (or the sum written) since the last
     *     read
     * @throws IllegalStateException if this eventfd is closed
     */
    public long read() {
        synchronized (readBuffer) {
            int errno = transfer(readBuffer, false);
            if (errno != MOVED) {
                if (errno == LibC.EAGAIN) { // nothing signalled on a non-blocking eventfd
                    return 0;
                }
                throw new KvmException("read(eventfd)", errno);
            }
            long value = 0;
            for (int i = 7; i >= 0; i--) {
                value = (value << 8) | (readBuffer[i] & 0xff);
            }
            return value;
        }
    }

    /**
     * Writes or reads the 8-byte counter through the descriptor, held open for the call. Returns
     * {@link #MOVED} when all 8 bytes moved, else the call's errno ({@link KvmException#NO_ERRNO}
     * if it moved fewer bytes without one).
     */
    private int transfer(byte[] buffer, boolean write) {
        int efd = fd.acquire();
        try {
            long n = write ? LibC.INSTANCE.write(efd, buffer, 8) : LibC.INSTANCE.read(efd, buffer, 8);
            return n == 8 ? MOVED : LibC.errno(); // errno before release(), whose close(2) would replace it
        } finally {
            fd.release();
        }
    }

    /** Closes the descriptor (once no call on it is in flight); idempotent. */
    @Override
    public void close() {
        fd.close();
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return fd.isClosed();
    }

    @Override
    public String toString() {
        return "EventFd[" + fd + "]";
    }
}
