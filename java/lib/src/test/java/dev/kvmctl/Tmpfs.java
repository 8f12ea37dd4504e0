package dev.kvmctl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Test helper: a small tmpfs mounted on a directory, to fill a real file system. Needs root (and
 * the right to mount); without it the test is skipped with that reason, even under
 * KVMCTL_REQUIRE_KVM=1 ({@link KvmAvailable#require}): CI runners need not be root. Unmounted by
 * {@link #close()}.
 *
 * <pre>{@code
 * try (Tmpfs fs = Tmpfs.mount(dir, "4m")) {
 *     fs.fill();   // now every further write gets ENOSPC
 * }
 * }</pre>
 */
public final class Tmpfs implements AutoCloseable {
    private final Path dir;

    private Tmpfs(Path dir) {
        this.dir = dir;
    }

    /** Mounts a tmpfs of {@code size} (as mount's {@code size=} option) on {@code dir}, which must exist. */
    public static Tmpfs mount(Path dir, String size) throws IOException, InterruptedException {
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        assumeTrue(uid == 0, "skipped: filling a file system needs a small tmpfs, and mounting one needs root (uid is " + uid + ")");
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assumeTrue(p.waitFor() == 0, "skipped: could not mount a tmpfs on " + dir + ": " + out.strip());
        return new Tmpfs(dir);
    }

    /** The mount point. */
    public Path dir() {
        return dir;
    }

    /** Writes a file {@code name} until the file system is full. */
    public void fill(String name) throws IOException {
        byte[] block = new byte[4096];
        java.util.Arrays.fill(block, (byte) 0x55);
        try (var out = Files.newOutputStream(dir.resolve(name))) {
            while (true) {
                out.write(block);
            }
        } catch (IOException e) {
            if (!String.valueOf(e.getMessage()).contains("No space left")) {
                throw e;
            }
        }
    }

    @Override
    public void close() throws IOException {
        Process p = new ProcessBuilder("umount", dir.toString()).inheritIO().start();
        try {
            if (p.waitFor() != 0) {
                throw new IOException("could not unmount the test tmpfs on " + dir);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while unmounting the test tmpfs on " + dir, e);
        }
    }
}
