package dev.kvmctl.fuzz;

import dev.kvmctl.cli.Main;

/**
 * The command line in a child JVM ({@link Isolated#runMain}), for inputs that may hang it or
 * exhaust its heap: runs {@link Main#run} and prints {@code RESULT status N} before exiting with N.
 */
final class CliMain {
    private CliMain() {}

    public static void main(String[] args) {
        int status = Main.run(args);
        System.out.println("RESULT status " + status);
        System.exit(status);
    }
}
