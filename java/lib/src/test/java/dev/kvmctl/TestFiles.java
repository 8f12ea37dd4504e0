package dev.kvmctl;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/** Special files for tests of input handling. */
public final class TestFiles {
    private TestFiles() {}

    /**
     * Makes a FIFO with mkfifo(1). Where it is missing or fails the test is skipped with a reason,
     * unless KVMCTL_REQUIRE_KVM=1 (CI), where that fails it instead of silently skipping.
     */
    public static Path mkfifo(Path path) throws IOException, InterruptedException {
        Process p;
        try {
            p = new ProcessBuilder("mkfifo", path.toString()).redirectErrorStream(true).start();
        } catch (IOException e) {
            p = null;
        }
        boolean made = p != null && p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        if (!made && Objects.equals(System.getenv("KVMCTL_REQUIRE_KVM"), "1")) {
            throw new AssertionError("KVMCTL_REQUIRE_KVM=1 but mkfifo(1), needed to test FIFOs, is missing or failed");
        }
        Assumptions.assumeTrue(made, "skipped: mkfifo(1) is missing or failed");
        return path;
    }
}
