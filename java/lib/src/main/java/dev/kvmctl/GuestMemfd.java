package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;

/**
 * Guest memory that user space cannot map: a {@code guest_memfd} made by
 * {@link Vm#createGuestMemfd(long, long)} ({@code KVM_CREATE_GUEST_MEMFD}), bound to a slot with
 * {@link Vm#mapMemory(long, GuestMemory, long, long, int, GuestMemfd, long)}. The slot keeps the
 * file; closing this object only closes its descriptor.
 *
 * <p>A closed one refuses every call with {@link IllegalStateException} except {@link #close()}
 * (idempotent), {@link #isClosed()} and {@code toString()}.
 */
public final class GuestMemfd implements AutoCloseable {
    private final OwnedFd fd;
    private final long size;

    GuestMemfd(OwnedFd fd, long size) {
        this.fd = fd;
        this.size = size;
    }

    /**
     * {@return its size in bytes, as created}
     *
     * @throws IllegalStateException if it is closed
     */
    public long size() {
        fd.get();
        return size;
    }

    /**
     * The descriptor, for callers that issue their own calls ({@code fallocate} to punch holes).
     *
     * @return the descriptor, owned by this object (do not close it)
     * @throws IllegalStateException if it is closed
     */
    public int fd() {
        return fd.get();
    }

    OwnedFd handle() {
        return fd;
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /** Closes the descriptor; idempotent. Slots bound to it keep the memory. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "GuestMemfd[" + size + " bytes, " + fd + "]";
    }
}
