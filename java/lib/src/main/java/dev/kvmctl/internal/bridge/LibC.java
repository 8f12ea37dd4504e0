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
    // Flags and errno values come from the native library's layout table (native/src/layout.c),
    // where the C compiler takes them from libc's headers: none is typed here.
    /** {@code open(2)}: read only. */
    int O_RDONLY = Layout.intValue("O_RDONLY");
    /** {@code open(2)}: read and write. */
    int O_RDWR = Layout.intValue("O_RDWR");
    /** {@code open(2)}: close on exec. */
    int O_CLOEXEC = Layout.intValue("O_CLOEXEC");
    /** {@code open(2)}: non-blocking. */
    int O_NONBLOCK = Layout.intValue("O_NONBLOCK");
    /** {@code open(2)}: a terminal opened does not become the controlling one. */
    int O_NOCTTY = Layout.intValue("O_NOCTTY");
    /** {@code memfd_create(2)}: close on exec. */
    int MFD_CLOEXEC = Layout.intValue("MFD_CLOEXEC");
    /** {@code mmap(2)}: readable. */
    int PROT_READ = Layout.intValue("PROT_READ");
    /** {@code mmap(2)}: writable. */
    int PROT_WRITE = Layout.intValue("PROT_WRITE");
    /** {@code mmap(2)}: shared mapping. */
    int MAP_SHARED = Layout.intValue("MAP_SHARED");
    /** {@code mmap(2)}: private mapping. */
    int MAP_PRIVATE = Layout.intValue("MAP_PRIVATE");
    /** {@code mmap(2)}: no file behind it. */
    int MAP_ANONYMOUS = Layout.intValue("MAP_ANONYMOUS");
    /** {@code mmap(2)}: reserve no swap. */
    int MAP_NORESERVE = Layout.intValue("MAP_NORESERVE");
    /** {@code mmap(2)}: at exactly this address, replacing what was there. */
    int MAP_FIXED = Layout.intValue("MAP_FIXED");
    /** What {@link #map} returns on failure ({@code (void *) -1}). */
    long MAP_FAILED = -1L;
    /** {@code eventfd(2)}: close on exec. */
    int EFD_CLOEXEC = Layout.intValue("EFD_CLOEXEC");
    /** {@code eventfd(2)}: non-blocking. */
    int EFD_NONBLOCK = Layout.intValue("EFD_NONBLOCK");
    /** {@code madvise(2)}: drop the pages (private mappings read zeros again). */
    int MADV_DONTNEED = Layout.intValue("MADV_DONTNEED");
    /** {@code madvise(2)}: free the range and its backing store (shared mappings). */
    int MADV_REMOVE = Layout.intValue("MADV_REMOVE");
    /** Linux 5.14+: allocate a range's pages now, as writes would (EINVAL on older kernels). */
    int MADV_POPULATE_WRITE = Layout.intValue("MADV_POPULATE_WRITE");
    /** {@code lseek(2)}: the next offset at or after the given one that holds data (ENXIO if none: a hole to the end). */
    int SEEK_DATA = Layout.intValue("SEEK_DATA");
    /** {@code poll(2)}: readable. */
    short POLLIN = (short) Layout.intValue("POLLIN");
    /** {@code sched_setscheduler(2)} policy: no wakeup preemption, a fair share of the CPU all the same. */
    int SCHED_BATCH = Layout.intValue("SCHED_BATCH");

    /** errno: operation not permitted. */
    int EPERM = Layout.intValue("EPERM");
    /** errno: no such file or directory. */
    int ENOENT = Layout.intValue("ENOENT");
    /** errno: interrupted system call. */
    int EINTR = Layout.intValue("EINTR");
    /** errno: no such device or address. */
    int ENXIO = Layout.intValue("ENXIO");
    /** errno: argument list too long. */
    int E2BIG = Layout.intValue("E2BIG");
    /** errno: try again. */
    int EAGAIN = Layout.intValue("EAGAIN");
    /** errno: out of memory. */
    int ENOMEM = Layout.intValue("ENOMEM");
    /** errno: permission denied. */
    int EACCES = Layout.intValue("EACCES");
    /** errno: bad address. */
    int EFAULT = Layout.intValue("EFAULT");
    /** errno: file exists. */
    int EEXIST = Layout.intValue("EEXIST");
    /** errno: no such device. */
    int ENODEV = Layout.intValue("ENODEV");
    /** errno: invalid argument. */
    int EINVAL = Layout.intValue("EINVAL");
    /** errno: too many open files in the system. */
    int ENFILE = Layout.intValue("ENFILE");
    /** errno: too many open files in the process. */
    int EMFILE = Layout.intValue("EMFILE");
    /** errno: not a terminal (an ioctl the file does not know). */
    int ENOTTY = Layout.intValue("ENOTTY");

    int open(String path, int flags);

    int close(int fd);

    int memfd_create(String name, int flags);

    int ftruncate(int fd, long length);

    /** {@code mmap(address, length, prot, flags, fd, offset)}: the address, or {@link #MAP_FAILED}. */
    long mmap(long address, long length, int prot, int flags, int fd, long offset);

    int munmap(long addr, long length);

    int madvise(long addr, long length, int advice);

    /** {@code lseek(2)}: the new offset, or -1 (see {@link #errno()}). */
    long lseek(int fd, long offset, int whence);

    int eventfd(int initval, int flags);

    /** {@code read(2)} of up to {@code count} bytes (at most {@code buf.length}) into {@code buf}. */
    long read(int fd, byte[] buf, long count);

    /** {@code write(2)} of the first {@code count} bytes (at most {@code buf.length}) of {@code buf}. */
    long write(int fd, byte[] buf, long count);

    /** {@code pread(2)} of up to {@code count} bytes (at most {@code buf.length}) at {@code offset}: for KVM's binary statistics file. */
    long pread(int fd, byte[] buf, long count, long offset);

    /** {@code poll(2)} over {@code nfds} {@code struct pollfd}s at {@code fds} (layout: the table's {@code pollfd} entries). */
    int poll(long fds, long nfds, int timeoutMillis);

    int dup(int fd);

    /** The calling thread's kernel id (glibc 2.30+). */
    int gettid();

    /** {@code sched_setscheduler(2)}; {@code param} is a {@code struct sched_param}: one int, the priority. */
    int sched_setscheduler(int pid, int policy, int[] param);

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
