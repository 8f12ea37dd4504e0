package dev.kvmctl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The fast start of issue 11 works, checked by what it does rather than how fast: {@code make cds}
 * builds the class-data-sharing archive from a training launch; {@code scripts/kvmctl} then runs a
 * guest with it, the classes of the launch path (picocli's Java 5 class files included, which a
 * dynamic archive would leave out) coming from the archive, no annotation proxy made (the
 * commands' models are built in code), jffi's library and the shim loaded from where
 * {@code make} unpacked them instead of a temporary file and JavaCPP's cache, and nothing printed
 * but the guest's output. A restore through the launcher, which loads the restore's classes while
 * picocli parses, runs its guest on (and does without that preloading too). With the java that
 * did not build the archive, the launcher runs without it, again without a warning.
 */
class FastStartIT {
    private static final long TIMEOUT_S = 180;

    @TempDir
    Path tmp;

    @Test
    void theLauncherRunsAGuestFromTheArchive() throws Exception {
        KvmAvailable.assumeKvm();
        Path root = Paths.get(System.getProperty("kvmctl.basedir", "../.."));
        KvmAvailable.require(Files.isRegularFile(root.resolve("target/kvmctl.jar")), "target/kvmctl.jar is missing: run after 'package'");
        String java = Paths.get(System.getProperty("java.home"), "bin", "java").toString();
        boolean make = false;
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            make |= Files.isExecutable(Paths.get(dir, "make"));
        }
        KvmAvailable.require(make, "there is no 'make' on PATH to build the archive with");

        Result cds = run(root, Map.of(), "make", "-s", "cds", "JAVA=" + java);
        assertEquals(0, cds.status, "make cds:\n" + cds.out + cds.err);
        assertTrue(Files.isRegularFile(root.resolve("target/kvmctl.jsa")), "make cds wrote target/kvmctl.jsa");

        // From another directory: the archive must hold wherever the launcher is started.
        String launcher = root.toAbsolutePath().resolve("scripts/kvmctl").toString();
        Result plain = run(tmp, Map.of("JAVA", java), launcher, "launch", "--image", "hello-long.elf");
        assertEquals(0, plain.status, plain.err);
        assertEquals("Hello from long mode, ring 3\nRAM: 16777216 bytes (16 MiB)\n", plain.out);
        assertEquals("", plain.err, "no JVM warning");

        // The same launch, logging where classes and jffi's library come from (into a file: stdout is the guest's).
        Path log = tmp.resolve("classes.log");
        Path tmpdir = Files.createDirectory(tmp.resolve("java-tmp"));
        Path javacppCache = Files.createDirectory(tmp.resolve("javacpp-cache"));
        Result traced = run(root, Map.of("JAVA", java, "KVMCTL_JVM_FLAGS", "-XX:TieredStopAtLevel=1 -Djava.io.tmpdir=" + tmpdir
                + " -Dorg.bytedeco.javacpp.cachedir=" + javacppCache + " -Xlog:class+load=info:file=" + log),
                launcher, "launch", "--image", "hello-long.elf");
        assertEquals(0, traced.status, traced.err);
        String classes = Files.readString(log);
        for (String c : List.of("dev.kvmctl.cli.Main", "dev.kvmctl.cli.LaunchCommand", "dev.kvmctl.cli.LaunchSpec", "picocli.CommandLine",
                "dev.kvmctl.internal.bridge.JffiLibC", "dev.kvmctl.guests.Machine")) {
            assertTrue(classes.contains(c + " source: shared objects file"), c + " from the archive:\n" + lines(classes, c));
        }
        assertTrue(!classes.contains("jnr.ffi."), "a launch loads no JNR-FFI class:\n" + lines(classes, "jnr.ffi."));
        assertTrue(!classes.contains("__dynamic_proxy__"), "no annotation read at start:\n" + lines(classes, "__dynamic_proxy__"));
        try (var files = Files.list(tmpdir)) {
            assertEquals(List.of(), files.toList(), "jffi unpacked nothing into java.io.tmpdir");
        }
        try (var files = Files.walk(javacppCache)) {
            assertEquals(List.of(javacppCache), files.toList(), "JavaCPP unpacked nothing into its cache");
        }

        // A restore through the launcher, whose start-up thread loads the restore's classes while
        // picocli parses (LazyRestore.loadClasses, then the command waits for it): the guest runs
        // on from the snapshot, with and without that preloading, and nothing is printed but
        // the guest's output and the expected timeout.
        Path snap = tmp.resolve("spin.snap");
        Result saved = run(tmp, Map.of("JAVA", java), launcher, "launch", "--image", "spin", "--mem", "16M",
                "--snapshot-after", "20ms", "--snapshot", snap.toString());
        assertEquals(0, saved.status, saved.err);
        for (String preload : List.of("true", "false")) {
            Result restored = run(tmp, Map.of("JAVA", java, "KVMCTL_JVM_FLAGS", "-XX:TieredStopAtLevel=1 -Dkvmctl.preload.classes=" + preload),
                    launcher, "restore", "--json", "--timeout", "50ms", snap.toString());
            assertEquals(124, restored.status, "a spinning guest stopped by --timeout (preload " + preload + "): " + restored.err);
            assertTrue(restored.out.contains("\"lazy\":true") && restored.out.contains("\"restore_ms\":"),
                    "a lazy restore reporting restore_ms (preload " + preload + "):\n" + restored.out);
        }

        // Another java than the archive's: no archive, no warning. (A flag that makes the check
        // fail without needing a second JDK: the recorded JVM no longer matches.)
        Path stamp = root.resolve("target/kvmctl.jsa.jvm");
        String recorded = Files.readString(stamp);
        try {
            Files.writeString(stamp, "/nonexistent/java\n");
            Result other = run(tmp, Map.of("JAVA", java), launcher, "launch", "--image", "hello-long.elf");
            assertEquals(0, other.status, other.err);
            assertEquals("", other.err, "no JVM warning without the archive");
        } finally {
            Files.writeString(stamp, recorded);
        }
    }

    private static String lines(String text, String containing) {
        StringBuilder s = new StringBuilder();
        text.lines().filter(l -> l.contains(containing)).limit(5).forEach(l -> s.append(l).append('\n'));
        return s.length() == 0 ? "(not loaded)" : s.toString();
    }

    private record Result(int status, String out, String err) {}

    private Result run(Path dir, Map<String, String> env, String... command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().putAll(env);
        Process p = pb.start();
        if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " did not finish in " + TIMEOUT_S + " s");
        }
        return new Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8), Files.readString(err, StandardCharsets.UTF_8));
    }
}
