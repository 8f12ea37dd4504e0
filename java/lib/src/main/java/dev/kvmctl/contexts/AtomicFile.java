package dev.kvmctl.contexts;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermission;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Set;

/**
 * A file that replaces its target whole or not at all: bytes go to a temporary file in the
 * target's directory, which {@link #commit()} syncs, renames over the target and follows with a
 * sync of the directory. Until then the target is untouched; {@link #close()} without a commit
 * deletes the temporary file. A process that has the old file open or mapped keeps the old inode,
 * undisturbed, because nothing is ever written into it.
 *
 * <pre>{@code
 * Path path = Path.of("greeting.txt");
 * try (AtomicFile f = AtomicFile.create(AtomicFile.checkDestination(path))) {
 *     AtomicFile.writeFully(f.channel(), java.nio.ByteBuffer.wrap("hello\n".getBytes(StandardCharsets.UTF_8)), 0);
 *     f.commit();
 * }
 * }</pre>
 */
final class AtomicFile implements AutoCloseable {
    private static final SecureRandom RANDOM = new SecureRandom();
    /** Keeps the temporary name under NAME_MAX (255) whatever the target's name. */
    private static final int MAX_NAME_IN_TEMP = 100;

    private final Path target;
    private final Path temp;
    private final FileChannel channel;
    private boolean committed;

    private AtomicFile(Path target, Path temp, FileChannel channel) {
        this.target = target;
        this.temp = temp;
        this.channel = channel;
    }

    /**
     * Checks that {@code file} can be replaced atomically and returns the path to write: the file
     * itself, or what it links to. Refuses (with {@link IllegalArgumentException}, a message that
     * says what to do) a missing directory, a directory, a device or FIFO (renaming over one would
     * replace the node, not write into it), and a directory where no file can be created (probed by
     * creating and deleting a temporary file, which also catches read-only file systems).
     */
    static Path checkDestination(Path file) {
        Path target = file.toAbsolutePath().normalize();
        if (Files.isDirectory(target)) {
            throw new IllegalArgumentException(file + " is a directory; give a file name, e.g. " + file.resolve("guest.snap"));
        }
        if (Files.exists(target)) {
            if (!Files.isRegularFile(target)) {
                throw new IllegalArgumentException(file + " exists and is not a regular file (a device, FIFO or socket); "
                        + "a snapshot replaces its file whole, so give the path of a regular file or a new one");
            }
            try {
                target = target.toRealPath(); // write beside what a symbolic link points to, not over the link
            } catch (IOException e) {
                throw new IllegalArgumentException("cannot resolve " + file + ": " + reason(e));
            }
        } else if (Files.isSymbolicLink(target)) {
            throw new IllegalArgumentException(file + " is a symbolic link to nothing; remove it or give another path");
        }
        Path dir = target.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("directory " + dir + " does not exist; create it first, or give a path in an existing directory");
        }
        try {
            Files.delete(Files.createFile(tempFor(target)));
        } catch (IOException e) {
            throw new IllegalArgumentException("cannot create files in " + dir + " (" + reason(e)
                    + "); give a path in a writable directory");
        }
        return target;
    }

    /** Creates the temporary file beside {@code target} (a path {@link #checkDestination} returned). */
    static AtomicFile create(Path target) throws IOException {
        Path temp = tempFor(target);
        FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
        AtomicFile f = new AtomicFile(target, temp, ch);
        try {
            if (Files.isRegularFile(target)) {
                // The replacement keeps the old file's permissions (a snapshot holds guest memory).
                Set<PosixFilePermission> old = Files.getPosixFilePermissions(target);
                Files.setPosixFilePermissions(temp, old);
            }
        } catch (IOException | UnsupportedOperationException e) {
            f.close();
            throw e instanceof IOException io ? io : new IOException(e);
        }
        return f;
    }

    private static Path tempFor(Path target) {
        String name = target.getFileName().toString();
        if (name.length() > MAX_NAME_IN_TEMP) {
            name = name.substring(0, MAX_NAME_IN_TEMP);
        }
        byte[] random = new byte[6];
        RANDOM.nextBytes(random);
        return target.resolveSibling("." + name + ".tmp-" + HexFormat.of().formatHex(random));
    }

    /** The channel to write the new contents through (positional writes). */
    FileChannel channel() {
        return channel;
    }

    /** The temporary file's path, for messages and tests. */
    Path temp() {
        return temp;
    }

    /**
     * Writes all of {@code bytes} at {@code position}, looping on short writes: one positional
     * write may write less than asked, and counting on it not to would report a short file as
     * written.
     */
    static void writeFully(FileChannel ch, ByteBuffer bytes, long position) throws IOException {
        long at = position;
        while (bytes.hasRemaining()) {
            int n = ch.write(bytes, at);
            if (n <= 0) {
                throw new IOException("the file system accepted no bytes at offset " + at);
            }
            at += n;
        }
    }

    /**
     * Syncs the file's data, renames it over the target, and syncs the directory so that the
     * rename itself survives a crash.
     */
    void commit() throws IOException {
        channel.force(true);
        channel.close();
        Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE); // rename(2): replaces the target
        committed = true;
        try (FileChannel dir = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
            dir.force(true);
        }
    }

    /** Without a commit: closes and deletes the temporary file, leaving the target as it was. */
    @Override
    public void close() throws IOException {
        try {
            channel.close();
        } finally {
            if (!committed) {
                Files.deleteIfExists(temp);
            }
        }
    }

    /** The operating system's reason for an I/O failure, without Java's exception class names. */
    static String reason(IOException e) {
        if (e instanceof FileSystemException fs) {
            // The callers name the file; Java's own message is the path, or a path and a reason.
            return fs.getReason() != null ? fs.getReason()
                    : e.getClass().getSimpleName().replace("Exception", "").replaceAll("([a-z])([A-Z])", "$1 $2").toLowerCase(Locale.ROOT);
        }
        return e.getMessage() != null ? e.getMessage() : e.toString();
    }
}
