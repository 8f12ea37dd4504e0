package dev.kvmctl.internal.bridge;

import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import jnr.ffi.annotations.In;
import jnr.ffi.annotations.Out;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The libc calls kvmctl makes that are not KVM ioctls, bound through JNR-FFI: opening devices,
 * memfds, mappings, eventfds. Errors come back as -1 with {@link #errno()}.
 */
public interface LibC {
    int O_RDONLY = 0;
    int O_RDWR = 02;
    int O_CLOEXEC = 02000000;
    int O_NONBLOCK = 04000;
    int MFD_CLOEXEC = 1;
    int PROT_READ = 1;
    int PROT_WRITE = 2;
    int MAP_SHARED = 1;
    int MAP_PRIVATE = 2;
    int MAP_ANONYMOUS = 0x20;
    int MAP_NORESERVE = 0x4000;
    int MAP_FIXED = 0x10;
    long MAP_FAILED = -1L;
    int EFD_CLOEXEC = O_CLOEXEC;
    int EFD_NONBLOCK = O_NONBLOCK;
    int MADV_DONTNEED = 4;
    int MADV_REMOVE = 9;
    /** Linux 5.14+: allocate a range's pages now, as writes would (EINVAL on older kernels). */
    int MADV_POPULATE_WRITE = 23;
    int EINVAL = 22;

    int open(String path, int flags);

    int close(int fd);

    int memfd_create(String name, int flags);

    int ftruncate(int fd, long length);

    /** Use {@link #map}: JNR-FFI's direct call mishandles this signature with a {@code long} address. */
    Pointer mmap(Pointer addr, @size_t long length, int prot, int flags, int fd, @off_t long offset);

    int munmap(long addr, @size_t long length);

    int madvise(long addr, @size_t long length, int advice);

    int eventfd(int initval, int flags);

    @ssize_t long read(int fd, @Out byte[] buf, @size_t long count);

    @ssize_t long write(int fd, @In byte[] buf, @size_t long count);

    /** {@code pread(2)}: for KVM's binary statistics file, read at offsets its header gives. */
    @ssize_t long pread(int fd, @Out byte[] buf, @size_t long count, @off_t long offset);

    short POLLIN = 1;

    /** {@code poll(2)} over {@code nfds} {@code struct pollfd}s (8 bytes each: int fd, short events, short revents) at {@code fds}. */
    int poll(@size_t long fds, @size_t long nfds, int timeoutMillis);

    int dup(int fd);

    /** Only for the benchmark that compares the shim to a direct JNR-FFI ioctl. */
    int ioctl(int fd, long request, long arg);

    /** The process-wide binding. */
    LibC INSTANCE = LibraryLoader.create(LibC.class).load("c");

    /** {@code mmap(NULL, length, prot, flags, fd, 0)}: the address, or {@link #MAP_FAILED} with {@link #errno()} set. */
    static long map(long length, int prot, int flags, int fd) {
        return map(length, prot, flags, fd, 0);
    }

    /** {@code mmap(NULL, length, prot, flags, fd, offset)}: the address, or {@link #MAP_FAILED} with {@link #errno()} set. */
    static long map(long length, int prot, int flags, int fd, long offset) {
        Pointer p = INSTANCE.mmap(null, length, prot, flags, fd, offset);
        return p == null ? MAP_FAILED : p.address();
    }

    /**
     * {@code mmap(address, length, prot, flags | MAP_FIXED, fd, 0)}: replaces whatever is mapped at
     * {@code address} in one step (no moment where the range is unmapped). The address, or
     * {@link #MAP_FAILED} with {@link #errno()} set.
     */
    static long mapFixed(long address, long length, int prot, int flags, int fd) {
        Pointer at = Pointer.wrap(Runtime.getRuntime(INSTANCE), address);
        Pointer p = INSTANCE.mmap(at, length, prot, flags | MAP_FIXED, fd, 0);
        return p == null ? MAP_FAILED : p.address();
    }

    /** The errno of this thread's last failed call through {@link #INSTANCE}. */
    static int errno() {
        return Runtime.getRuntime(INSTANCE).getLastError();
    }
}
