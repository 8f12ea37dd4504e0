package dev.kvmctl.fuzz;

import dev.kvmctl.cli.Main;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** One in-process run of the command line, its exit status and what it printed. */
record CliRun(int status, String out, String err) {
    /** Runs {@code Main.run(args)} with System.out and System.err captured (callers run one at a time). */
    static synchronized CliRun of(String... args) {
        PrintStream oldOut = System.out, oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream(), err = new ByteArrayOutputStream();
        int status;
        try (PrintStream o = new PrintStream(out, true, StandardCharsets.UTF_8);
             PrintStream e = new PrintStream(err, true, StandardCharsets.UTF_8)) {
            System.setOut(o);
            System.setErr(e);
            status = Main.run(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new CliRun(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /** Main's handler prints this for an exception it did not expect (and returns 1). */
    boolean unexpectedError() {
        return err.contains("unexpected error") || out.contains("unexpected error");
    }

    /** The last line of stderr, for reports. */
    String lastErrLine() {
        String t = err.strip();
        int nl = t.lastIndexOf('\n');
        return nl < 0 ? t : t.substring(nl + 1);
    }
}
