package dev.kvmctl.cli;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** One run of the command line, in this JVM or a child JVM: exit status, what it printed, how long it took. */
record Cli(int status, String out, String err, Duration took, boolean killed) {
    /** {@code Main.run(args)} in this JVM with System.out and System.err captured (callers run one at a time). */
    static synchronized Cli run(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status;
        long start = System.nanoTime();
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            status = Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new Cli(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8),
                Duration.ofNanos(System.nanoTime() - start), false);
    }

    /**
     * {@code Main.main(args)} in a child JVM with this JVM's class path, killed after {@code limit}
     * (then {@link #killed()}): for input that could hang or exhaust the JVM that reads it.
     */
    static Cli child(Duration limit, List<String> jvmFlags, String... args) throws IOException, InterruptedException {
        Path work = Files.createTempDirectory("kvmctl-cli");
        try {
            List<String> cmd = new ArrayList<>();
            cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
            if (Runtime.version().feature() >= 22) {
                cmd.add("--enable-native-access=ALL-UNNAMED");
            }
            cmd.addAll(jvmFlags);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName()));
            cmd.addAll(Arrays.asList(args));
            Path out = work.resolve("out"), err = work.resolve("err");
            long start = System.nanoTime();
            Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            boolean finished = p.waitFor(limit.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                p.destroyForcibly().waitFor();
            }
            Duration took = Duration.ofNanos(System.nanoTime() - start);
            return new Cli(finished ? p.exitValue() : -1, Files.readString(out), Files.readString(err), took, !finished);
        } finally {
            try (var files = Files.walk(work)) {
                for (Path f : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    /** The lines on stderr. */
    List<String> errLines() {
        return err.isEmpty() ? List.of() : List.of(err.split("\n"));
    }

    /** Everything, for assertion messages. */
    String describe() {
        return (killed ? "killed after the time limit" : "exit status " + status) + " after " + took.toMillis()
                + " ms\nstdout: " + (out.length() > 2000 ? out.substring(0, 2000) + "..." : out) + "\nstderr: " + err;
    }
}
