package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.internal.bridge.Shim;
import java.nio.ByteBuffer;

/**
 * A Linux userfaultfd over one {@link GuestMemory} in missing mode: a first touch of a page that
 * holds nothing yet (by the guest, by KVM, or by the JVM) waits until the owner of this object
 * fills it ({@link #copy} or {@link #zero}); the thread that touched it simply resumes, with no
 * signal anywhere. Closing it lets every waiting and later touch through as an ordinary fault
 * (a zero page), so a memory whose owner gave up never blocks or crashes anyone.
 *
 * <p>Calls take offsets into the registered memory, and the kernel applies them only to ranges
 * this descriptor registered: a memory closed meanwhile makes them fail ({@code ENOENT}), never
 * write elsewhere. The descriptor is non-blocking: {@link #nextFault()} answers at once. KVM's own
 * accesses to guest memory fault from kernel mode, so the descriptor is opened without
 * {@code UFFD_USER_MODE_ONLY}, which needs root or {@code CAP_SYS_PTRACE} (or
 * {@code vm.unprivileged_userfaultfd=1}): the system call is tried first, then
 * {@code /dev/userfaultfd}.
 *
 * <pre>{@code
 * try (GuestMemory ram = GuestMemory.memfd("lazy", 2 << 20);
 *      UserFaultFd uffd = UserFaultFd.register(ram)) {
 *     // another thread touches ram; this one answers:
 *     long offset = uffd.nextFault();                 // -1 while nothing waits
 *     if (offset >= 0) {
 *         uffd.zero(offset & -GuestMemory.PAGE_SIZE, GuestMemory.PAGE_SIZE);
 *     }
 * }
 * }</pre>
 */
public final class UserFaultFd implements AutoCloseable {
    private static final long MODE_MISSING = Layout.value("UFFDIO_REGISTER_MODE_MISSING");
    private static final int POLLFD_SIZE = Layout.sizeOf("pollfd");
    private static final int POLLFD_FD = Layout.offsetOf("pollfd", "fd");
    private static final int POLLFD_EVENTS = Layout.offsetOf("pollfd", "events");
    private static final int POLLFD_REVENTS = Layout.offsetOf("pollfd", "revents");

    private final OwnedFd fd;
    private final long address;
    private final long size;
    /** The {@code struct pollfd} of {@link #awaitFault}; its one caller at a time is the thread serving faults. */
    private final ByteBuffer pollfd = Memory.allocate(POLLFD_SIZE);

    private UserFaultFd(OwnedFd fd, long address, long size) {
        this.fd = fd;
        this.address = address;
        this.size = size;
    }

    /**
     * Opens a userfaultfd and registers all of {@code memory} in missing mode. The memory must not
     * have been touched yet for the registration to matter: pages already present are never
     * faulted on.
     *
     * @param memory the memory to fill lazily; it stays the caller's
     * @return the descriptor, which the caller closes after (or instead of) filling every page
     * @throws KvmException naming {@code userfaultfd} ({@code EPERM}: not root and
     *     {@code vm.unprivileged_userfaultfd} is 0; {@code ENOSYS}: a kernel without it),
     *     {@code UFFDIO_API} or {@code UFFDIO_REGISTER} ({@code EINVAL}: a memory type it cannot
     *     serve)
     * @throws IllegalStateException if {@code memory} is closed
     */
    public static UserFaultFd register(GuestMemory memory) {
        long address = memory.hostAddress();
        long size = memory.size();
        int flags = LibC.O_CLOEXEC | LibC.O_NONBLOCK;
        int raw = Shim.userfaultfd(flags);
        if (raw < 0) {
            int viaDevice = Shim.userfaultfdDev(flags);
            if (viaDevice < 0) {
                throw new KvmException("userfaultfd", -raw, "and /dev/userfaultfd gave errno " + (-viaDevice)
                        + "; lazy memory needs root (or vm.unprivileged_userfaultfd=1)");
            }
            raw = viaDevice;
        }
        OwnedFd owned = new OwnedFd(raw, "userfaultfd");
        try {
            check("UFFDIO_API", Shim.uffdioApi(raw, 0));
            check("UFFDIO_REGISTER", Shim.uffdioRegister(raw, address, size, MODE_MISSING));
            return new UserFaultFd(owned, address, size);
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    private static void check(String op, int rc) {
        if (rc < 0) {
            throw new KvmException(op, -rc);
        }
    }

    /**
     * The offset into the memory of the next touch that waits, or -1 if none does now.
     *
     * @return the faulting byte's offset, or -1
     * @throws KvmException naming {@code read} if the descriptor fails
     * @throws IllegalStateException if this descriptor is closed
     */
    public long nextFault() {
        int f = fd.acquire();
        try {
            long rc = Shim.uffdReadFault(f);
            if (rc == -LibC.EAGAIN) {
                return -1;
            }
            if (rc < 0) {
                throw new KvmException("read(userfaultfd)", (int) -rc);
            }
            return rc - address;
        } finally {
            fd.release();
        }
    }

    /**
     * Waits until a touch waits on the memory, or {@code timeoutMillis} passes, without using the
     * CPU meanwhile (a thread serving faults would otherwise poll {@link #nextFault()}). Issues
     * {@code poll(2)}. Call it from one thread at a time.
     *
     * @param timeoutMillis the most milliseconds to wait; 0 looks without waiting
     * @return whether a touch waits now ({@link #nextFault()} returns it); false on the timeout,
     *     or when a signal interrupted the wait
     * @throws KvmException naming {@code poll} if the descriptor fails
     * @throws IllegalStateException if this descriptor is closed
     */
    public boolean awaitFault(int timeoutMillis) {
        int f = fd.acquire();
        try {
            pollfd.putInt(POLLFD_FD, f).putShort(POLLFD_EVENTS, LibC.POLLIN).putShort(POLLFD_REVENTS, (short) 0);
            int rc = LibC.INSTANCE.poll(Memory.addressOf(pollfd), 1, timeoutMillis);
            if (rc < 0) {
                int errno = LibC.errno();
                if (errno == LibC.EINTR) {
                    return false;
                }
                throw new KvmException("poll(userfaultfd)", errno);
            }
            return rc > 0;
        } finally {
            fd.release();
        }
    }

    /**
     * Fills the pages of {@code [offset, offset + src.remaining())} with {@code src}'s bytes and
     * wakes whoever waits on them. Pages already present are left as they are.
     *
     * @param offset where, a multiple of 4 KiB
     * @param src a direct buffer whose remaining length is a multiple of 4 KiB; not consumed
     * @return false if the memory is no longer registered (closed or remapped); nothing was written
     * @throws IllegalArgumentException for an unaligned or out-of-range request, or a heap buffer
     * @throws KvmException naming {@code UFFDIO_COPY} for any other refusal
     * @throws IllegalStateException if this descriptor is closed
     */
    public boolean copy(long offset, ByteBuffer src) {
        ensureOpen();
        if (!src.isDirect()) {
            throw new IllegalArgumentException("UFFDIO_COPY needs a direct buffer");
        }
        int length = src.remaining();
        checkRange(offset, length);
        long from = Memory.addressOf(src) + src.position();
        return fill("UFFDIO_COPY", offset, length, (f, at, done) -> Shim.uffdioCopy(f, address + at, from + done, length - done, 0));
    }

    /**
     * Fills the pages of {@code [offset, offset + length)} with zeros and wakes whoever waits on
     * them. Pages already present are left as they are.
     *
     * @param offset where, a multiple of 4 KiB
     * @param length how many bytes, a multiple of 4 KiB
     * @return false if the memory is no longer registered (closed or remapped)
     * @throws IllegalArgumentException for an unaligned or out-of-range request
     * @throws KvmException naming {@code UFFDIO_ZEROPAGE} for any other refusal
     * @throws IllegalStateException if this descriptor is closed
     */
    public boolean zero(long offset, long length) {
        ensureOpen();
        checkRange(offset, length);
        return fill("UFFDIO_ZEROPAGE", offset, length, (f, at, done) -> Shim.uffdioZeropage(f, address + at, length - done, 0));
    }

    @FunctionalInterface
    private interface FillCall {
        long call(int fd, long at, long done);
    }

    /**
     * Runs {@code op} until the range is filled: the kernel stops at a page already present
     * ({@code EEXIST}) or when interrupted ({@code EAGAIN}), and the rest is tried again from the
     * next page.
     */
    private boolean fill(String op, long offset, long length, FillCall call) {
        int f = fd.acquire();
        try {
            long done = 0;
            while (done < length) {
                long rc = call.call(f, offset + done, done);
                if (rc > 0) {
                    done += rc;
                } else if (rc == -LibC.EEXIST) {
                    Shim.uffdioWake(f, address + offset + done, GuestMemory.PAGE_SIZE); // someone may still wait on it
                    done += GuestMemory.PAGE_SIZE;
                } else if (rc == -LibC.EAGAIN) {
                    Thread.onSpinWait();
                } else if (rc == -LibC.ENOENT) {
                    return false;
                } else {
                    throw new KvmException(op, (int) -rc);
                }
            }
            return true;
        } finally {
            fd.release();
        }
    }

    private void ensureOpen() {
        if (fd.isClosed()) {
            throw new IllegalStateException("the userfaultfd is closed");
        }
    }

    private void checkRange(long offset, long length) {
        if (offset < 0 || length <= 0 || offset % GuestMemory.PAGE_SIZE != 0 || length % GuestMemory.PAGE_SIZE != 0
                || offset > size - length) {
            throw new IllegalArgumentException(String.format("[%d, +%d) is not a page-aligned range of the %d-byte memory",
                    offset, length, size));
        }
    }

    /**
     * Closes the descriptor: every touch that waits now, and every later one, is served by the
     * kernel as an ordinary fault (zeros). Idempotent.
     */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return fd.toString();
    }
}
