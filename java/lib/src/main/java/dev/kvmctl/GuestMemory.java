package dev.kvmctl;

import dev.kvmctl.internal.Mapping;
import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Memory;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Host memory to give to guests: an anonymous mapping, or a memfd mapping that several VMs (or
 * processes) can share. It owns its mapping and its memfd; {@link #close()} releases both, at
 * once, or when the last VM slot that maps the memory goes.
 *
 * <p>Offsets are relative to the start of the region, bounds-checked, and may exceed 2 GiB.
 *
 * <p><b>After close.</b> Closed memory refuses every call with {@link IllegalStateException}
 * except {@link #close()} (idempotent), {@link #isClosed()} and {@code toString()}, and any close
 * order is safe: memory a VM still maps in a slot stays mapped for that VM (the guest keeps
 * running on it) until the slot is removed or the VM closed, and is released then. Released
 * memory is not unmapped: its range is swapped for zero pages (see {@code Mapping}), so an access
 * racing with the close on another thread reads zeros or lands in a page nobody reads, and a
 * {@link #slice} view kept past the close reads zeros; the range is unmapped once this object and
 * every such view are unreachable. No access can reach an unmapped address.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      GuestMemory shared = GuestMemory.memfd("shared", 2 << 20);
 *      Vm a = kvm.createVm();
 *      Vm b = kvm.createVm()) {
 *     shared.write(0x1000, new byte[] {(byte) 0xf4});   // hlt
 *     a.mapMemory(0, shared);
 *     b.mapMemory(0, shared);                            // both VMs see the same bytes
 *     ...
 * }
 * }</pre>
 *
 * <p>The example opens the memory before the VMs that map it, as the
 * {@linkplain dev.kvmctl package documentation} recommends.
 */
public final class GuestMemory implements AutoCloseable {
    /** The page size, 4 KiB, that sizes, slot addresses and slot offsets are multiples of. */
    public static final long PAGE_SIZE = 4096;

    private final Mapping mapping;
    private final long address;
    private final long size;
    private final OwnedFd memfd;
    private final String name;
    /** Set while someone fills this memory lazily: every access waits for it first. */
    private volatile LazyFill lazyFill;
    /** VM slots that map this memory; guarded by {@code this}. */
    private int pins;
    private volatile boolean closed;

    private GuestMemory(long address, long size, OwnedFd memfd, String name) {
        this.mapping = new Mapping(address, size);
        this.address = address;
        this.size = size;
        this.memfd = memfd;
        this.name = name;
        mapping.anchor(this); // the accessors reach the range through this object
    }

    /**
     * Private anonymous memory, zero-filled; the host allocates its pages when they are first
     * touched, not now.
     *
     * @param size bytes, a positive multiple of 4 KiB
     * @return the new memory, which the caller closes
     * @throws IllegalArgumentException for any other size
     * @throws KvmException {@code ENOMEM} ({@code mmap}) if the address space cannot hold it
     */
    public static GuestMemory anonymous(long size) {
        checkSize(size);
        long address = map(size, LibC.MAP_PRIVATE | LibC.MAP_ANONYMOUS | LibC.MAP_NORESERVE, -1);
        return new GuestMemory(address, size, null, "anonymous");
    }

    /**
     * A new memfd, zero-filled and mapped shared: map it into several VMs, or hand {@link #fd()} to
     * another process, or {@link #mapAgain()} it, and all see the same bytes.
     *
     * @param name a label for the memfd, shown in {@code /proc/<pid>/maps} and {@code /proc/<pid>/fd}
     *     (at most 249 bytes)
     * @param size bytes, a positive multiple of 4 KiB
     * @return the new memory, which the caller closes
     * @throws IllegalArgumentException for any other size
     * @throws KvmException naming {@code memfd_create} ({@code EMFILE}: out of file descriptors;
     *     {@code EINVAL}: name too long), {@code ftruncate} or {@code mmap} when the host refuses
     */
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
     *
     * @param file a regular file
     * @param offset where in the file the memory starts, a multiple of 4 KiB
     * @param size bytes, a positive multiple of 4 KiB; the range must lie inside the file
     * @return the new memory, which the caller closes; not shareable ({@link #fd()} refuses)
     * @throws IllegalArgumentException for an unaligned offset or size, a range outside the file,
     *     or a file that is not a regular file
     * @throws java.io.UncheckedIOException if the file's size cannot be read
     * @throws KvmException naming {@code open} or {@code mmap} when the host refuses (for example
     *     {@code EACCES})
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
     *
     * @return the new mapping, which the caller closes
     * @throws IllegalStateException if this memory is closed, or anonymous or file-mapped (no memfd)
     * @throws KvmException naming {@code dup} ({@code EMFILE}) or {@code mmap} when the host refuses
     */
    public GuestMemory mapAgain() {
        OwnedFd source = requireMemfd();
        int dup = source.call((fd, unused) -> LibC.INSTANCE.dup(fd), 0);
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

    /**
     * {@return the size in bytes, a multiple of 4 KiB}
     *
     * @throws IllegalStateException if this memory is closed
     */
    public long size() {
        ensureOpen();
        return size;
    }

    /**
     * The host virtual address of the first byte, for callers that issue their own ioctls (a
     * {@link dev.kvmctl.Vm} needs no help). The number is the caller's to guard: it stays valid
     * only while this memory is open and reachable.
     *
     * @return the address
     * @throws IllegalStateException if this memory is closed
     */
    public long hostAddress() {
        ensureOpen();
        return address;
    }

    /**
     * {@return whether this memory is a memfd that other processes can map ({@link #fd()} answers)}
     * Any memory, shareable or not, can be mapped into several VMs of this process.
     *
     * @throws IllegalStateException if this memory is closed
     */
    public boolean isShareable() {
        ensureOpen();
        return memfd != null;
    }

    /**
     * The memfd's descriptor, to hand to another process. The number is the caller's to guard:
     * after {@link #close()} it may name another file.
     *
     * @return the descriptor, owned by this memory (do not close it)
     * @throws IllegalStateException if this memory is closed, or anonymous or file-mapped (no memfd)
     */
    public int fd() {
        return requireMemfd().get();
    }

    private OwnedFd requireMemfd() {
        ensureOpen();
        awaitFilled(); // another mapping of the memfd would see the pages not yet filled as zeros
        if (memfd == null) {
            throw new IllegalStateException("anonymous guest memory has no file descriptor; use GuestMemory.memfd");
        }
        return memfd;
    }

    // ---- bounds-checked access ----

    // Every access ends with a reachability fence on this object: the range may be unmapped only
    // once it is unreachable (see the class comment), and without the fence the JIT may consider
    // it unreachable while the access it started is still running.

    /**
     * {@return the byte at {@code offset}}
     *
     * @param offset the byte's offset from the start of this memory
     * @throws IndexOutOfBoundsException if {@code offset} is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public byte getByte(long offset) {
        try {
            return Memory.getByte(at(offset, 1));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@return the little-endian short at {@code offset}}
     *
     * @param offset the offset of its first byte from the start of this memory
     * @throws IndexOutOfBoundsException if the 2 bytes is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public short getShort(long offset) {
        try {
            return Memory.getShort(at(offset, 2));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@return the little-endian int at {@code offset}}
     *
     * @param offset the offset of its first byte from the start of this memory
     * @throws IndexOutOfBoundsException if the 4 bytes is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public int getInt(long offset) {
        try {
            return Memory.getInt(at(offset, 4));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@return the little-endian long at {@code offset}}
     *
     * @param offset the offset of its first byte from the start of this memory
     * @throws IndexOutOfBoundsException if the 8 bytes is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public long getLong(long offset) {
        try {
            return Memory.getLong(at(offset, 8));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Writes a byte at {@code offset}.
     *
     * @param offset the byte's offset from the start of this memory
     * @param v the value
     * @throws IndexOutOfBoundsException if {@code offset} is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void putByte(long offset, byte v) {
        try {
            Memory.putByte(at(offset, 1), v);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Writes a little-endian short at {@code offset}.
     *
     * @param offset the offset of its first byte from the start of this memory
     * @param v the value
     * @throws IndexOutOfBoundsException if the 2 bytes is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void putShort(long offset, short v) {
        try {
            Memory.putShort(at(offset, 2), v);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Writes a little-endian int at {@code offset}.
     *
     * @param offset the offset of its first byte from the start of this memory
     * @param v the value
     * @throws IndexOutOfBoundsException if the 4 bytes is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void putInt(long offset, int v) {
        try {
            Memory.putInt(at(offset, 4), v);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Writes a little-endian long at {@code offset}.
     *
     * @param offset the offset of its first byte from the start of this memory
     * @param v the value
     * @throws IndexOutOfBoundsException if the 8 bytes is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void putLong(long offset, long v) {
        try {
            Memory.putLong(at(offset, 8), v);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Copies all of {@code data} to {@code offset}.
     *
     * @param offset where the first byte goes, from the start of this memory
     * @param data the bytes
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void write(long offset, byte[] data) {
        write(offset, data, 0, data.length);
    }

    /**
     * Copies {@code length} bytes of {@code data} from index {@code from} to {@code offset}.
     *
     * @param offset where the first byte goes, from the start of this memory
     * @param data the source array
     * @param from the index of the first byte in {@code data}
     * @param length how many bytes
     * @throws IndexOutOfBoundsException if either range is outside its array or this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void write(long offset, byte[] data, int from, int length) {
        ensureOpen();
        Objects.checkFromIndexSize(from, length, data.length);
        try {
            Memory.copyIn(at(offset, length), data, from, length);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Reads {@code length} bytes at {@code offset}.
     *
     * @param offset the offset of the first byte from the start of this memory
     * @param length how many bytes
     * @return a new array of the bytes
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public byte[] read(long offset, int length) {
        at(offset, length); // the range first: no array for an access that cannot happen
        byte[] out = new byte[length];
        read(offset, out, 0, length);
        return out;
    }

    /**
     * Reads {@code length} bytes at {@code offset} into {@code dst} from index {@code from}.
     *
     * @param offset the offset of the first byte from the start of this memory
     * @param dst the array to fill
     * @param from the index in {@code dst} of the first byte read
     * @param length how many bytes
     * @throws IndexOutOfBoundsException if either range is outside its array or this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void read(long offset, byte[] dst, int from, int length) {
        ensureOpen();
        Objects.checkFromIndexSize(from, length, dst.length);
        try {
            Memory.copyOut(at(offset, length), dst, from, length);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Sets {@code length} bytes at {@code offset} to {@code value}.
     *
     * @param offset the offset of the first byte from the start of this memory
     * @param length how many bytes
     * @param value the byte to fill with
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public void fill(long offset, long length, byte value) {
        try {
            Memory.fill(at(offset, length), length, value);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Copies {@code length} bytes from {@code source} at {@code sourceOffset} to this memory at
     * {@code offset}.
     *
     * @param source the memory to copy from
     * @param sourceOffset the offset of the first byte in {@code source}
     * @param offset where the first byte goes in this memory
     * @param length how many bytes
     * @throws IndexOutOfBoundsException if either range is outside its memory
     * @throws IllegalStateException if this memory or {@code source} is closed
     */
    public void copyFrom(GuestMemory source, long sourceOffset, long offset, long length) {
        ensureOpen();
        try {
            Memory.copy(source.at(sourceOffset, length), at(offset, length), length);
        } finally {
            Reference.reachabilityFence(source);
            Reference.reachabilityFence(this);
        }
    }

    /**
     * {@return whether the {@code length} bytes at {@code offset} are all zero}
     *
     * @param offset the offset of the first byte from the start of this memory
     * @param length how many bytes
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public boolean isZero(long offset, long length) {
        try {
            return Memory.isZero(at(offset, length), length);
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Whether the {@code length} bytes at {@code offset} may hold anything but zeros, found
     * without touching them: false only for memfd memory whose range is a hole of the file (never
     * written, or discarded), which {@code lseek(SEEK_DATA)} tells. Reading a hole through the
     * mapping would allocate its pages, so a pass over a large, mostly empty memory (a snapshot's)
     * skips the ranges this says are empty. Anonymous and file-mapped memory always answer true.
     *
     * @param offset the offset of the first byte from the start of this memory
     * @param length how many bytes
     * @return false if the range is certainly all zeros; true if it may hold data
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public boolean mayHoldData(long offset, long length) {
        try {
            at(offset, length); // bounds, open, and a lazy fill over: its pages are holes until filled
            if (length == 0 || memfd == null) {
                return length != 0;
            }
            long data = LibC.INSTANCE.lseek(memfd.get(), offset, LibC.SEEK_DATA);
            if (data < 0) {
                return LibC.errno() != LibC.ENXIO; // ENXIO: no data from offset to the end; anything else: may be
            }
            return data < offset + length;
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * A little-endian view of {@code length} bytes at {@code offset} (at most 2 GiB). Once this
     * memory is released (see the class comment) a kept view reads zeros and its writes go
     * nowhere; it never reaches an unmapped address.
     *
     * @param offset the offset of the view's first byte from the start of this memory
     * @param length the view's capacity in bytes
     * @return a new direct buffer over the memory itself (writes reach the guest), position 0
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
     */
    public ByteBuffer slice(long offset, int length) {
        try {
            return mapping.anchor(Memory.wrap(at(offset, length), length));
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Drops the pages of a range and gives their host memory back. Anonymous and memfd memory
     * read as zero afterwards (for a memfd, {@code madvise(MADV_REMOVE)} frees the pages of the
     * file itself, so every VM that maps it sees zeros); a private file mapping
     * ({@link #mapFile}) reads the file's bytes again ({@code MADV_DONTNEED}).
     *
     * @param offset the offset of the first page, a multiple of 4 KiB
     * @param length bytes, a multiple of 4 KiB
     * @throws IllegalArgumentException for an unaligned offset or length
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
     * @throws KvmException naming {@code madvise} when the host refuses
     */
    public void discard(long offset, long length) {
        ensureOpen();
        if (offset % PAGE_SIZE != 0 || length % PAGE_SIZE != 0) {
            throw new IllegalArgumentException("discard needs a page-aligned range");
        }
        try {
            // DONTNEED on a shared memfd mapping only drops this mapping's page-table entries:
            // the file keeps its pages and they come back on the next touch. REMOVE punches them out.
            int advice = memfd != null ? LibC.MADV_REMOVE : LibC.MADV_DONTNEED;
            if (LibC.INSTANCE.madvise(at(offset, length), length, advice) < 0) {
                throw new KvmException("madvise", LibC.errno());
            }
        } finally {
            Reference.reachabilityFence(this);
        }
    }

    /**
     * Allocates the pages of a range now, in one call, rather than one fault at a time on first
     * touch (much cheaper when the range is about to be filled from the host).
     *
     * @param offset the offset of the first byte from the start of this memory (the pages it
     *     falls in are allocated)
     * @param length how many bytes
     * @return false if this kernel cannot (before Linux 5.14): the pages come on first touch
     * @throws KvmException if the kernel cannot allocate them (out of memory)
     * @throws IndexOutOfBoundsException if the range is not inside this memory
     * @throws IllegalStateException if this memory is closed
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
        awaitFilled();
        return address + offset;
    }

    private void awaitFilled() {
        LazyFill fill = lazyFill;
        if (fill != null) {
            fill.await();
        }
    }

    /**
     * Whoever fills a memory lazily (through a {@link UserFaultFd}) and makes the JVM's own
     * accesses wait until it is done. A JVM thread must never touch a page that waits on a
     * userfaultfd: a thread stuck in such a fault inside Java code holds up every safepoint, and
     * the filling thread, which is a Java thread too, would then wait for the safepoint forever.
     * KVM's accesses fault from inside {@code KVM_RUN}, where the thread is in native code.
     */
    @FunctionalInterface
    public interface LazyFill {
        /** Returns once the memory is filled (or its filler gave up); waits uninterruptibly. */
        void await();
    }

    /**
     * Makes every access through this object (and {@link #fd()}, {@link #mapAgain()}) first wait
     * in {@code fill}, until it is removed with {@code null}; {@link #hostAddress()} does not wait.
     *
     * @param fill the filler to wait for, or null once the memory is filled
     * @throws IllegalStateException if this memory is closed
     */
    public void fillLazily(LazyFill fill) {
        ensureOpen();
        lazyFill = fill;
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("guest memory (" + name + ") is closed");
        }
    }

    // ---- lifetime: pinned by VM slots (only Vm, in this package, pins: a public unpin would let a
    // caller unmap memory a VM still maps), closed by the owner ----

    /** Records one more VM slot over this memory and returns its host address; refused once closed. */
    synchronized long pin() {
        ensureOpen();
        pins++;
        return address;
    }

    /** The host address of memory a VM slot still pins (closed or not). */
    synchronized long pinnedAddress() {
        if (pins == 0) {
            throw new IllegalStateException(this + " is not mapped into a VM");
        }
        return address;
    }

    /** Undoes one {@link #pin}; memory closed meanwhile is released with its last pin. */
    synchronized void unpin() {
        if (pins == 0) {
            throw new IllegalStateException(this + " is not mapped into a VM");
        }
        pins--;
        if (pins == 0 && closed) {
            release();
        }
    }

    /**
     * {@return whether {@link #close()} was called (the memory stays mapped while a VM slot still
     * uses it)}
     */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes the memory; idempotent, and safe in any order with the VMs that map it. From now on
     * every call refuses with {@link IllegalStateException}. If no VM slot maps the memory, its
     * mapping and memfd are released now; otherwise the guests keep running on it and it is
     * released when the last such slot is removed ({@link dev.kvmctl.Vm#unmapMemory}) or its VM
     * closed. Nothing is ever unmapped under a VM.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (pins == 0) {
            release();
        }
    }

    /** Lets go of the pages and the memfd; the range reads as zeros until it is unreachable (see {@link Mapping}). */
    private void release() {
        mapping.retire();
        if (memfd != null) {
            memfd.close();
        }
    }

    @Override
    public String toString() {
        return String.format("GuestMemory[%s, %d bytes%s]", name, size, closed ? ", closed" : "");
    }
}
