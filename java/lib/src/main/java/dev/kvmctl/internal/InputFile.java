package dev.kvmctl.internal;

import dev.kvmctl.internal.bridge.LibC;
import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import jnr.constants.platform.Errno;

/**
 * A file opened once for reading, whose type and size are taken from that descriptor, never from
 * its path again: a path checked and then re-opened can name another file by then (a FIFO swapped
 * in). The open is non-blocking, so a FIFO without a writer cannot hang it; whoever reads refuses
 * what is not {@link Kind#REGULAR} and reads through {@link #readAll(long)}, which stops at a bound.
 *
 * <pre>{@code
 * try (InputFile f = InputFile.open(path)) {
 *     if (f.kind() != InputFile.Kind.REGULAR) throw new IllegalArgumentException(path + " is a " + f.kind().description());
 *     byte[] bytes = f.readAll(1 << 20);
 * }
 * }</pre>
 */
public final class InputFile implements AutoCloseable {
    private static final int CHUNK = 1 << 20;

    /** What the descriptor refers to (the {@code S_IFMT} bits of its mode). */
    public enum Kind {
        REGULAR("regular file"), DIRECTORY("directory"), FIFO("named pipe (FIFO)"), CHARACTER_DEVICE("character device"),
        BLOCK_DEVICE("block device"), SOCKET("socket"), OTHER("special file");

        private final String description;

        Kind(String description) {
            this.description = description;
        }

        /** In words, e.g. "named pipe (FIFO)". */
        public String description() {
            return description;
        }

        static Kind of(int mode) {
            return switch (mode & 0170000) {
                case 0100000 -> REGULAR;
                case 0040000 -> DIRECTORY;
                case 0010000 -> FIFO;
                case 0020000 -> CHARACTER_DEVICE;
                case 0060000 -> BLOCK_DEVICE;
                case 0140000 -> SOCKET;
                default -> OTHER;
            };
        }
    }

    /**
     * The path names nothing that can be opened for reading (missing, not permitted, a socket, a
     * device without a driver): the user's mistake, not an I/O failure.
     */
    public static final class UnusableFileException extends FileSystemException {
        private static final long serialVersionUID = 1L;

        UnusableFileException(String file, String reason) {
            super(file, null, reason);
        }
    }

    private final Path path;
    private final OwnedFd fd;
    private final Kind kind;
    private final long size;

    private InputFile(Path path, OwnedFd fd, Kind kind, long size) {
        this.path = path;
        this.fd = fd;
        this.kind = kind;
        this.size = size;
    }

    /**
     * Opens {@code path} read-only. A path that cannot be opened throws {@link NoSuchFileException},
     * {@link AccessDeniedException} or {@link UnusableFileException} (all the user's to fix), any
     * other failure a plain {@link FileSystemException}.
     */
    public static InputFile open(Path path) throws IOException {
        int raw = LibC.INSTANCE.open(path.toString(), LibC.O_RDONLY | LibC.O_NONBLOCK | LibC.O_CLOEXEC | LibC.O_NOCTTY);
        if (raw < 0) {
            throw openFailure(path, LibC.errno());
        }
        OwnedFd fd = new OwnedFd(raw, "file " + path);
        try {
            // /proc/self/fd/N is the descriptor's own file (a "magic link"), not a path lookup:
            // stat on it is fstat on the open file, whatever the path names by now.
            Map<String, Object> attrs = Files.readAttributes(Path.of("/proc/self/fd/" + raw), "unix:mode,size");
            return new InputFile(path, fd, Kind.of((Integer) attrs.get("mode")), (Long) attrs.get("size"));
        } catch (IOException | RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private static IOException openFailure(Path path, int errno) {
        String reason = describe(errno);
        return switch (Errno.valueOf(errno)) {
            case ENOENT, ENOTDIR -> new NoSuchFileException(path.toString(), null, reason);
            case EACCES, EPERM -> new AccessDeniedException(path.toString(), null, reason);
            case ELOOP, ENAMETOOLONG, ENXIO, ENODEV, EISDIR, EROFS, ETXTBSY -> new UnusableFileException(path.toString(), reason);
            default -> new FileSystemException(path.toString(), null, "open failed: " + reason);
        };
    }

    private static String describe(int errno) {
        Errno e = Errno.valueOf(errno);
        return e == Errno.__UNKNOWN_CONSTANT__ ? "errno " + errno : e.name() + " (" + e.description() + ")";
    }

    /** What the open descriptor refers to. */
    public Kind kind() {
        return kind;
    }

    /** The size the descriptor reported when opened (0 for most special files and for /proc files). */
    public long size() {
        return size;
    }

    /**
     * Reads from the current position to the end of the file, but never more than {@code maxBytes}
     * (at most {@code Integer.MAX_VALUE - 8}): a file that turns out longer, however it looked when
     * opened, throws {@link FileTooLargeException} after {@code maxBytes + 1} bytes. A failed read
     * throws {@link FileSystemException} naming the file and the errno.
     */
    public byte[] readAll(long maxBytes) throws IOException {
        if (maxBytes < 0 || maxBytes > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("maxBytes " + maxBytes + " outside 0.." + (Integer.MAX_VALUE - 8));
        }
        if (size > maxBytes) {
            throw new FileTooLargeException(path.toString(), maxBytes);
        }
        byte[] data;
        try {
            data = new byte[(int) Math.max(size, 0)];
        } catch (OutOfMemoryError e) {
            throw new FileSystemException(path.toString(), null, "not enough Java heap for " + size + " bytes; run java with a larger -Xmx");
        }
        byte[] chunk = new byte[CHUNK];
        long total = 0;
        while (true) {
            long want = Math.min(CHUNK, maxBytes + 1 - total); // at least 1: total <= maxBytes here
            long n = LibC.INSTANCE.read(fd.get(), chunk, want);
            if (n < 0) {
                int errno = LibC.errno();
                if (errno == LibC.EINTR) {
                    continue;
                }
                throw new FileSystemException(path.toString(), null, "read failed: " + describe(errno));
            }
            if (n == 0) {
                return total == data.length ? data : Arrays.copyOf(data, (int) total);
            }
            if (total + n > maxBytes) {
                throw new FileTooLargeException(path.toString(), maxBytes);
            }
            if (total + n > data.length) {
                data = Arrays.copyOf(data, (int) Math.min(maxBytes + 1, Math.max(total + n, 2L * data.length)));
            }
            System.arraycopy(chunk, 0, data, (int) total, (int) n);
            total += n;
        }
    }

    /** More bytes than the bound given to {@link #readAll(long)}. */
    public static final class FileTooLargeException extends FileSystemException {
        private static final long serialVersionUID = 1L;
        private final long limit;

        FileTooLargeException(String file, long limit) {
            super(file, null, "longer than the limit of " + limit + " bytes");
            this.limit = limit;
        }

        /** The bound that was exceeded. */
        public long limit() {
            return limit;
        }
    }

    @Override
    public void close() {
        fd.close();
    }
}
