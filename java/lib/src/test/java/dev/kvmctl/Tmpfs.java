package dev.kvmctl;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Test helper: a small tmpfs mounted on a directory, to fill a real file system. Mounting needs
 * root: as root it runs {@code mount}, otherwise {@code sudo -n mount} (CI runners such as GitHub's
 * are not root but have password-less sudo). When neither works the test follows the project's one
 * rule, {@link KvmAvailable#require}: skipped with the reason, or failed under KVMCTL_REQUIRE_KVM=1.
 * Unmounted by {@link #close()}, the same way.
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
        List<String> command = asRoot("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", dir.toString());
        String failure;
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes()).strip();
            failure = p.waitFor() == 0 ? null : "exit " + p.exitValue() + (out.isEmpty() ? "" : ": " + out);
        } catch (IOException e) { // no sudo on this machine
            failure = e.getMessage();
        }
        KvmAvailable.require(failure == null, "filling a file system needs a small tmpfs, and '"
                + String.join(" ", command) + "' failed (" + failure + "); run as root or with password-less sudo");
        return new Tmpfs(dir);
    }

    /** {@code command} as is when this process is root, else behind {@code sudo -n} (never asks for a password). */
    private static List<String> asRoot(String... command) throws IOException {
        int uid = (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        List<String> full = new ArrayList<>();
        if (uid != 0) {
            full.add("sudo");
            full.add("-n");
        }
        full.addAll(List.of(command));
        return full;
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
        Process p = new ProcessBuilder(asRoot("umount", dir.toString())).inheritIO().start();
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
