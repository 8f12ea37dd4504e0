package dev.kvmctl.internal.bridge;

import com.kenai.jffi.CallContext;
import com.kenai.jffi.CallingConvention;
import com.kenai.jffi.Invoker;
import com.kenai.jffi.LastError;
import com.kenai.jffi.Library;
import com.kenai.jffi.MemoryIO;
import com.kenai.jffi.Type;
import java.nio.charset.StandardCharsets;

/**
 * {@link LibC} through jffi: each function's address from the process's own symbols (libc is
 * already loaded), called through a call context that saves errno, every argument passed as a
 * native word. Strings and byte arrays go through a short-lived native copy.
 */
final class JffiLibC implements LibC {
    private static final Invoker INVOKER = Invoker.getInstance();
    private static final MemoryIO IO = MemoryIO.getInstance();
    private static final Library DEFAULT = Library.getDefault();

    private static final CallContext INT_1 = context(Type.SINT, Type.SINT);
    private static final CallContext INT_2 = context(Type.SINT, Type.SINT, Type.SINT);
    private static final CallContext INT_PTR_INT = context(Type.SINT, Type.POINTER, Type.SINT);
    private static final CallContext INT_0 = context(Type.SINT);
    private static final CallContext INT_INT_INT_PTR = context(Type.SINT, Type.SINT, Type.SINT, Type.POINTER);
    private static final CallContext INT_INT_LONG = context(Type.SINT, Type.SINT, Type.SLONG);
    private static final CallContext INT_PTR_LONG = context(Type.SINT, Type.POINTER, Type.ULONG);
    private static final CallContext INT_PTR_LONG_INT = context(Type.SINT, Type.POINTER, Type.ULONG, Type.SINT);
    private static final CallContext INT_INT_LONG_PTR = context(Type.SINT, Type.SINT, Type.ULONG, Type.POINTER);
    private static final CallContext LONG_INT_PTR_LONG = context(Type.SLONG, Type.SINT, Type.POINTER, Type.ULONG);
    private static final CallContext LONG_INT_PTR_LONG_LONG = context(Type.SLONG, Type.SINT, Type.POINTER, Type.ULONG, Type.SLONG);
    private static final CallContext LONG_INT_LONG_INT = context(Type.SLONG, Type.SINT, Type.SLONG, Type.SINT);
    private static final CallContext MMAP = context(Type.POINTER, Type.POINTER, Type.ULONG, Type.SINT, Type.SINT, Type.SINT, Type.SLONG);

    private static final long OPEN = symbol("open");
    private static final long CLOSE = symbol("close");
    private static final long MEMFD_CREATE = symbol("memfd_create");
    private static final long FTRUNCATE = symbol("ftruncate");
    private static final long MMAP_FN = symbol("mmap");
    private static final long MUNMAP = symbol("munmap");
    private static final long MADVISE = symbol("madvise");
    private static final long LSEEK = symbol("lseek");
    private static final long EVENTFD = symbol("eventfd");
    private static final long READ = symbol("read");
    private static final long PREAD = symbol("pread");
    private static final long WRITE = symbol("write");
    private static final long POLL = symbol("poll");
    private static final long DUP = symbol("dup");
    private static final long IOCTL = symbol("ioctl");
    private static final long GETTID = symbol("gettid");
    private static final long SCHED_SETSCHEDULER = symbol("sched_setscheduler");

    private static CallContext context(Type result, Type... parameters) {
        return CallContext.getCallContext(result, parameters, CallingConvention.DEFAULT, true);
    }

    private static long symbol(String name) {
        long address = DEFAULT.getSymbolAddress(name);
        if (address == 0) {
            throw new UnsatisfiedLinkError("libc has no " + name + ": " + Library.getLastError());
        }
        return address;
    }

    static int errno() {
        return LastError.getInstance().get();
    }

    /** A NUL-terminated native copy of {@code s}, which has no NUL; the caller frees it. */
    private static long cString(String s) {
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        long address = IO.allocateMemory(bytes.length + 1, false);
        if (address == 0) {
            throw new OutOfMemoryError("no native memory for a " + bytes.length + "-byte string");
        }
        IO.putZeroTerminatedByteArray(address, bytes, 0, bytes.length);
        return address;
    }

    /**
     * Calls {@code function(s, flags)}; a NUL inside {@code s} would make C see a shorter string
     * than the one named (another file), so that fails as the kernel fails a bad name: -1, EINVAL.
     */
    private static int callWithString(long function, String s, int flags) {
        if (s.indexOf('\0') >= 0) {
            LastError.getInstance().set(EINVAL);
            return -1;
        }
        long p = cString(s);
        try {
            return (int) INVOKER.invokeN2(INT_PTR_INT, function, p, flags);
        } finally {
            IO.freeMemory(p);
        }
    }

    @Override
    public int open(String path, int flags) {
        return callWithString(OPEN, path, flags);
    }

    @Override
    public int close(int fd) {
        return (int) INVOKER.invokeN1(INT_1, CLOSE, fd);
    }

    @Override
    public int memfd_create(String name, int flags) {
        return callWithString(MEMFD_CREATE, name, flags);
    }

    @Override
    public int ftruncate(int fd, long length) {
        return (int) INVOKER.invokeN2(INT_INT_LONG, FTRUNCATE, fd, length);
    }

    @Override
    public long mmap(long address, long length, int prot, int flags, int fd, long offset) {
        return INVOKER.invokeN6(MMAP, MMAP_FN, address, length, prot, flags, fd, offset);
    }

    @Override
    public int munmap(long addr, long length) {
        return (int) INVOKER.invokeN2(INT_PTR_LONG, MUNMAP, addr, length);
    }

    @Override
    public int madvise(long addr, long length, int advice) {
        return (int) INVOKER.invokeN3(INT_PTR_LONG_INT, MADVISE, addr, length, advice);
    }

    @Override
    public long lseek(int fd, long offset, int whence) {
        return INVOKER.invokeN3(LONG_INT_LONG_INT, LSEEK, fd, offset, whence);
    }

    @Override
    public int eventfd(int initval, int flags) {
        return (int) INVOKER.invokeN2(INT_2, EVENTFD, initval, flags);
    }

    @Override
    public long read(int fd, byte[] buf, long count) {
        return receive(fd, buf, count, false, 0);
    }

    @Override
    public long pread(int fd, byte[] buf, long count, long offset) {
        return receive(fd, buf, count, true, offset);
    }

    /**
     * {@code read(2)}, or {@code pread(2)} at {@code offset} when {@code positional}, into a native
     * bounce buffer of up to {@code buf.length} bytes, then the bytes read into {@code buf}.
     */
    private static long receive(int fd, byte[] buf, long count, boolean positional, long offset) {
        int n = (int) Math.min(count, buf.length);
        long p = IO.allocateMemory(Math.max(n, 1), false);
        try {
            long got = positional ? INVOKER.invokeN4(LONG_INT_PTR_LONG_LONG, PREAD, fd, p, n, offset)
                    : INVOKER.invokeN3(LONG_INT_PTR_LONG, READ, fd, p, n);
            if (got > 0) {
                IO.getByteArray(p, buf, 0, (int) got);
            }
            return got;
        } finally {
            IO.freeMemory(p);
        }
    }

    @Override
    public long write(int fd, byte[] buf, long count) {
        int n = (int) Math.min(count, buf.length);
        long p = IO.allocateMemory(Math.max(n, 1), false);
        try {
            IO.putByteArray(p, buf, 0, n);
            return INVOKER.invokeN3(LONG_INT_PTR_LONG, WRITE, fd, p, n);
        } finally {
            IO.freeMemory(p);
        }
    }

    @Override
    public int poll(long fds, long nfds, int timeoutMillis) {
        return (int) INVOKER.invokeN3(INT_PTR_LONG_INT, POLL, fds, nfds, timeoutMillis);
    }

    @Override
    public int dup(int fd) {
        return (int) INVOKER.invokeN1(INT_1, DUP, fd);
    }

    @Override
    public int gettid() {
        return (int) INVOKER.invokeN0(INT_0, GETTID);
    }

    @Override
    public int sched_setscheduler(int pid, int policy, int[] param) {
        // struct sched_param is one int (the priority); copied in for the call, as write's bytes are.
        long p = IO.allocateMemory(4, true);
        if (p == 0) {
            throw new OutOfMemoryError("no native memory for a sched_param");
        }
        try {
            IO.putInt(p, param[0]);
            return (int) INVOKER.invokeN3(INT_INT_INT_PTR, SCHED_SETSCHEDULER, pid, policy, p);
        } finally {
            IO.freeMemory(p);
        }
    }

    @Override
    public int ioctl(int fd, long request, long arg) {
        return (int) INVOKER.invokeN3(INT_INT_LONG_PTR, IOCTL, fd, request, arg);
    }
}
