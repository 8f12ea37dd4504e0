package dev.kvmctl.internal.bridge;

/**
 * The libc calls kvmctl makes that are not KVM ioctls: opening devices, memfds, mappings,
 * eventfds. Errors come back as -1 with {@link #errno()}.
 *
 * <p>Bound through jffi directly ({@link JffiLibC}), the layer under JNR-FFI that kvmctl loads
 * anyway for {@link Memory}: JNR-FFI's {@code LibraryLoader} generated a stub class per interface
 * with ASM at start-up, about 300 classes and a third of a {@code kvmctl launch} (issue 11); jffi
 * calls a function through one prepared call context.
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
    short POLLIN = 1;

    int open(String path, int flags);

    int close(int fd);

    int memfd_create(String name, int flags);

    int ftruncate(int fd, long length);

    /** {@code mmap(address, length, prot, flags, fd, offset)}: the address, or {@link #MAP_FAILED}. */
    long mmap(long address, long length, int prot, int flags, int fd, long offset);

    int munmap(long addr, long length);

    int madvise(long addr, long length, int advice);

    int eventfd(int initval, int flags);

    /** {@code read(2)} of up to {@code count} bytes (at most {@code buf.length}) into {@code buf}. */
    long read(int fd, byte[] buf, long count);

    /** {@code write(2)} of the first {@code count} bytes (at most {@code buf.length}) of {@code buf}. */
    long write(int fd, byte[] buf, long count);

    /** {@code poll(2)} over {@code nfds} {@code struct pollfd}s (8 bytes each: int fd, short events, short revents) at {@code fds}. */
    int poll(long fds, long nfds, int timeoutMillis);

    int dup(int fd);

    /** Only for the benchmark that compares the shim to a direct foreign-function ioctl. */
    int ioctl(int fd, long request, long arg);

    /** The process-wide binding. */
    LibC INSTANCE = new JffiLibC();

    /** {@code mmap(NULL, length, prot, flags, fd, 0)}: the address, or {@link #MAP_FAILED} with {@link #errno()} set. */
    static long map(long length, int prot, int flags, int fd) {
        return map(length, prot, flags, fd, 0);
    }

    /** {@code mmap(NULL, length, prot, flags, fd, offset)}: the address, or {@link #MAP_FAILED} with {@link #errno()} set. */
    static long map(long length, int prot, int flags, int fd, long offset) {
        return INSTANCE.mmap(0, length, prot, flags, fd, offset);
    }

    /**
     * {@code mmap(address, length, prot, flags | MAP_FIXED, fd, 0)}: replaces whatever is mapped at
     * {@code address} in one step (no moment where the range is unmapped). The address, or
     * {@link #MAP_FAILED} with {@link #errno()} set.
     */
    static long mapFixed(long address, long length, int prot, int flags, int fd) {
        return INSTANCE.mmap(address, length, prot, flags | MAP_FIXED, fd, 0);
    }

    /** The errno of this thread's last failed call through {@link #INSTANCE}. */
    static int errno() {
        return JffiLibC.errno();
    }
}
