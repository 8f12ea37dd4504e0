package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Memory;
import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Host memory to give to guests: an anonymous mapping, or a memfd mapping that several VMs (or
 * processes) can share. It owns its mapping and its memfd; {@link #close()} releases both, and is
 * refused while a VM still has the memory in a slot.
 *
 * <p>Offsets are relative to the start of the region, bounds-checked, and may exceed 2 GiB.
 *
 * <pre>{@code
 * try (GuestMemory ram = GuestMemory.anonymous(2 << 20)) {
 *     ram.write(0x1000, new byte[] {(byte) 0xf4});   // hlt
 *     vm.mapMemory(0, ram);
 *     ...
 * }
 * }</pre>
 */
public final class GuestMemory implements AutoCloseable {
    /** The page size KVM slots are aligned to. */
    public static final long PAGE_SIZE = 4096;

    private final long address;
    private final long size;
    private final OwnedFd memfd;
    private final String name;
    private final AtomicInteger attachments = new AtomicInteger();
    private volatile boolean closed;

    private GuestMemory(long address, long size, OwnedFd memfd, String name) {
        this.address = address;
        this.size = size;
        this.memfd = memfd;
        this.name = name;
    }

    /** Private anonymous memory of {@code size} bytes (a multiple of 4 KiB), zero-filled, reserved lazily. */
    public static GuestMemory anonymous(long size) {
        checkSize(size);
        long address = map(size, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1);
        return new GuestMemory(address, size, null, "anonymous");
    }

    /** A new memfd of {@code size} bytes, mapped shared: hand {@link #fd()} to whoever else should map it. */
    public static GuestMemory memfd(String name, long size) {
        checkSize(size);
        Objects.requireNonNull(name, "name");
        int fd = LibC.INSTANCE.memfd_create(name, LibC.MFD_CLOEXEC);
        if (fd < 0) {
            throw new KvmException("memfd_create", LibC.errno());
        }
        OwnedFd owned = new OwnedFd(fd, "memfd " + name);
        try {
            if (LibC.INSTANCE.ftruncate(fd, size) < 0) {
                throw new KvmException("ftruncate", LibC.errno(), "could not size memfd '" + name + "' to " + size + " bytes");
            }
            long address = map(size, LibC.MAP_SHARED, fd);
            return new GuestMemory(address, size, owned, name);
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    /**
     * A private, copy-on-write mapping of {@code size} bytes of {@code file} from {@code offset}
     * (page-aligned): the guest reads the file's pages without their being copied, and its writes
     * never reach the file. Only for a file nobody else can change: truncating a file discards
     * even the copy-on-write pages of its private mappings, and the next touch of one raises
     * SIGBUS (KVM_RUN gives EFAULT or an error exit; the JVM crashes or throws
     * {@link InternalError}). Snapshots are therefore restored by copying, not mapped.
     */
    public static GuestMemory mapFile(java.nio.file.Path file, long offset, long size) {
        checkSize(size);
        if (offset < 0 || offset % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("file offset " + offset + " is not page-aligned");
        }
        long fileSize;
        try {
            fileSize = java.nio.file.Files.isRegularFile(file) ? java.nio.file.Files.size(file) : -1;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        if (fileSize < 0 || offset > fileSize - size) {
            // Touching a mapped page past the end of a file raises SIGBUS: refuse it up front.
            throw new IllegalArgumentException(String.format("%s: [%d, +%d) is not inside the regular file's %d bytes",
                    file, offset, size, Math.max(fileSize, 0)));
        }
        int fd = LibC.INSTANCE.open(file.toString(), LibC.O_RDONLY | LibC.O_CLOEXEC);
        if (fd < 0) {
            throw new KvmException("open(" + file + ")", LibC.errno());
        }
        try {
            long address = LibC.map(size, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_PRIVATE, fd, offset);
            if (address == LibC.MAP_FAILED) {
                throw new KvmException("mmap(" + file + ")", LibC.errno(), "could not map " + size + " bytes of the file");
            }
            return new GuestMemory(address, size, null, file.getFileName().toString());
        } finally {
            LibC.INSTANCE.close(fd); // the mapping keeps the file open
        }
    }

    /**
     * A second mapping of the same memfd: both objects see the same bytes. The new object has its
     * own duplicate of the descriptor, so either can be closed first.
     */
    public GuestMemory mapAgain() {
        int fd = requireMemfd().get();
        int dup = LibC.INSTANCE.dup(fd);
        if (dup < 0) {
            throw new KvmException("dup", LibC.errno());
        }
        OwnedFd owned = new OwnedFd(dup, "memfd " + name);
        try {
            return new GuestMemory(map(size, LibC.MAP_SHARED, dup), size, owned, name);
        } catch (RuntimeException e) {
            owned.close();
            throw e;
        }
    }

    private static void checkSize(long size) {
        if (size <= 0 || size % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("guest memory size must be a positive multiple of 4 KiB, got " + size);
        }
    }

    private static long map(long size, int flags, int fd) {
        long address = LibC.map(size, LibC.PROT_READ | LibC.PROT_WRITE, flags, fd);
        if (address == LibC.MAP_FAILED) {
            int errno = LibC.errno();
            throw new KvmException("mmap", errno, "could not map " + size + " bytes of guest memory");
        }
        return address;
    }

    /** Size in bytes. */
    public long size() {
        return size;
    }

    /** The host virtual address of the first byte, as given to {@code KVM_SET_USER_MEMORY_REGION}. */
    public long hostAddress() {
        ensureOpen();
        return address;
    }

    /** Whether this memory is backed by a memfd that other VMs or processes can map. */
    public boolean isShareable() {
        return memfd != null;
    }

    /** The memfd's descriptor; {@link IllegalStateException} for anonymous memory. */
    public int fd() {
        return requireMemfd().get();
    }

    private OwnedFd requireMemfd() {
        ensureOpen();
        if (memfd == null) {
            throw new IllegalStateException("anonymous guest memory has no file descriptor; use GuestMemory.memfd");
        }
        return memfd;
    }

    // ---- bounds-checked access ----

    public byte getByte(long offset) { return Memory.getByte(at(offset, 1)); }
    public short getShort(long offset) { return Memory.getShort(at(offset, 2)); }
    public int getInt(long offset) { return Memory.getInt(at(offset, 4)); }
    public long getLong(long offset) { return Memory.getLong(at(offset, 8)); }
    public void putByte(long offset, byte v) { Memory.putByte(at(offset, 1), v); }
    public void putShort(long offset, short v) { Memory.putShort(at(offset, 2), v); }
    public void putInt(long offset, int v) { Memory.putInt(at(offset, 4), v); }
    public void putLong(long offset, long v) { Memory.putLong(at(offset, 8), v); }

    /** Copies {@code data} to {@code offset}. */
    public void write(long offset, byte[] data) {
        write(offset, data, 0, data.length);
    }

    public void write(long offset, byte[] data, int from, int length) {
        Objects.checkFromIndexSize(from, length, data.length);
        Memory.copyIn(at(offset, length), data, from, length);
    }

    /** Reads {@code length} bytes at {@code offset}. */
    public byte[] read(long offset, int length) {
        at(offset, length); // the range first: no array for an access that cannot happen
        byte[] out = new byte[length];
        read(offset, out, 0, length);
        return out;
    }

    public void read(long offset, byte[] dst, int from, int length) {
        Objects.checkFromIndexSize(from, length, dst.length);
        Memory.copyOut(at(offset, length), dst, from, length);
    }

    /** Sets {@code length} bytes at {@code offset} to {@code value}. */
    public void fill(long offset, long length, byte value) {
        Memory.fill(at(offset, length), length, value);
    }

    /** Copies {@code length} bytes from {@code source} at {@code sourceOffset} to this memory at {@code offset}. */
    public void copyFrom(GuestMemory source, long sourceOffset, long offset, long length) {
        Memory.copy(source.at(sourceOffset, length), at(offset, length), length);
    }

    /** Whether {@code length} bytes at {@code offset} are all zero. */
    public boolean isZero(long offset, long length) {
        return Memory.isZero(at(offset, length), length);
    }

    /**
     * A little-endian view of {@code length} bytes at {@code offset} (at most 2 GiB), valid while
     * this memory is open. Touching it after {@link #close()} is undefined, as with any mapping.
     */
    public ByteBuffer slice(long offset, int length) {
        return Memory.wrap(at(offset, length), length);
    }

    /** Gives pages back to the host: they read as zero afterwards (page-aligned range). */
    public void discard(long offset, long length) {
        if (offset % PAGE_SIZE != 0 || length % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("discard needs a page-aligned range");
        }
        if (LibC.INSTANCE.madvise(at(offset, length), length, LibC.MADV_DONTNEED) < 0) {
            throw new KvmException("madvise", LibC.errno());
        }
    }

    /**
     * Allocates the pages of a range now, in one call, rather than one fault at a time on first
     * touch (much cheaper when the range is about to be filled from the host).
     *
     * @return false if this kernel cannot (before Linux 5.14): the pages come on first touch
     * @throws KvmException if the kernel cannot allocate them (out of memory)
     */
    public boolean populate(long offset, long length) {
        if (LibC.INSTANCE.madvise(at(offset, length), length, LibC.MADV_POPULATE_WRITE) == 0) {
            return true;
        }
        int errno = LibC.errno();
        if (errno == LibC.EINVAL) {
            return false;
        }
        throw new KvmException("madvise(MADV_POPULATE_WRITE)", errno, "could not allocate " + length + " bytes of guest memory");
    }

    private long at(long offset, long length) {
        ensureOpen();
        if (offset < 0 || length < 0 || offset > size - length) {
            throw new IndexOutOfBoundsException(String.format(
                    "guest memory access [0x%x, +0x%x) outside region of 0x%x bytes", offset, length, size));
        }
        return address + offset;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("guest memory (" + name + ") is closed");
        }
    }

    /** Records that a VM slot uses this memory; {@link #close()} is refused until it is detached. */
    public void attach() {
        ensureOpen();
        attachments.incrementAndGet();
    }

    /** Undoes one {@link #attach()}. */
    public void detach() {
        attachments.decrementAndGet();
    }

    public boolean isClosed() {
        return closed;
    }

    /**
     * Unmaps the memory and closes its memfd.
     *
     * @throws IllegalStateException while a VM still maps it: close the VM or remove the slot first,
     *     or the guest would run on unmapped memory
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        int users = attachments.get();
        if (users > 0) {
            throw new IllegalStateException("guest memory (" + name + ") is still mapped into " + users
                    + " VM slot(s); close those VMs or remove the slots first");
        }
        closed = true;
        LibC.INSTANCE.munmap(address, size);
        if (memfd != null) {
            memfd.close();
        }
    }

    @Override
    public String toString() {
        return String.format("GuestMemory[%s, %d bytes%s]", name, size, closed ? ", closed" : "");
    }
}
