package dev.kvmctl.cli;

import dev.kvmctl.KvmException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code java -jar kvmctl.jar}: the command line. Subcommands: {@code launch}, {@code info},
 * {@code images}.
 */
@Command(name = "kvmctl", mixinStandardHelpOptions = true, version = "kvmctl 0.1.0",
        description = "Runs small guests on Linux KVM (/dev/kvm) and shows what KVM can do.")
public final class Main {
    /** Exit status for a failed KVM operation, an unusable /dev/kvm, or an I/O error on a file. */
    static final int KVM_ERROR = 1;
    /** Exit status for bad input: options, images, sizes. */
    static final int USAGE_ERROR = 2;

    public static void main(String[] args) {
        if (Runtime.version().feature() >= 24 && System.getProperty("jffi.unsafe.disabled") == null) {
            // From JDK 24 on, jffi's sun.misc.Unsafe memory access prints a deprecation warning
            // at its first use; its JNI path says nothing and is fast enough for the CLI.
            System.setProperty("jffi.unsafe.disabled", "true");
        }
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status (for tests and embedding). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        addSubcommands(cli, args.length > 0 ? args[0] : "");
        cli.setExecutionExceptionHandler(Main::handle);
        cli.setParameterExceptionHandler(Main::badOption);
        try {
            return cli.execute(args);
        } catch (LinkageError e) {
            // A native library (JavaCPP's or jffi's) that could not be extracted or loaded.
            System.err.println("kvmctl: could not load native code: " + e + ". Both JavaCPP (~/.javacpp/cache, or "
                    + "-Dorg.bytedeco.javacpp.cachedir=DIR) and jffi (java.io.tmpdir, or -Djffi.extract.dir=DIR) extract "
                    + "a library at start: give them a writable directory that allows executables");
            return KVM_ERROR;
        }
    }

    /**
     * Registers the subcommand {@code first} names, or all of them when it names none (help, a
     * usage error, an option of {@code kvmctl} itself). picocli builds a command's model by
     * reflection over its annotated fields when it is registered, a few milliseconds per option;
     * a {@code launch} has no use for the models of {@code restore}, {@code info} and
     * {@code images} (start-up time, issue 11).
     */
    private static void addSubcommands(CommandLine cli, String first) {
        switch (first) {
            case "launch" -> cli.addSubcommand(new LaunchCommand());
            case "restore" -> cli.addSubcommand(new RestoreCommand());
            case "info" -> cli.addSubcommand(new InfoCommand());
            case "images" -> cli.addSubcommand(new ImagesCommand());
            default -> {
                cli.addSubcommand(new LaunchCommand());
                cli.addSubcommand(new RestoreCommand());
                cli.addSubcommand(new InfoCommand());
                cli.addSubcommand(new ImagesCommand());
                cli.addSubcommand(new CommandLine.HelpCommand());
            }
        }
    }

    /** A malformed command line: one line saying what is wrong and where help is, instead of the whole usage. */
    private static int badOption(CommandLine.ParameterException e, String[] args) {
        CommandLine cli = e.getCommandLine();
        String command = cli.getCommandSpec().qualifiedName();
        cli.getErr().println("kvmctl: " + e.getMessage() + " (see '" + command + " --help')");
        cli.getErr().flush();
        return USAGE_ERROR;
    }

    private static int handle(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        PrintWriter err = cli.getErr();
        if (e instanceof KvmException) {
            err.println("kvmctl: " + e.getMessage());
            return KVM_ERROR;
        }
        if (e instanceof UncheckedIOException || e instanceof IOException) {
            // An I/O failure on a file the user named (the message names it), not a bug.
            err.println("kvmctl: " + e.getMessage());
            return KVM_ERROR;
        }
        if (e instanceof IllegalArgumentException || e instanceof CommandLine.ParameterException) {
            err.println("kvmctl: " + e.getMessage());
            return USAGE_ERROR;
        }
        if (e instanceof IllegalStateException && e.getMessage() != null) {
            err.println("kvmctl: " + e.getMessage());
            if (e.getCause() != null) {
                err.println("  caused by: " + e.getCause());
            }
            return KVM_ERROR;
        }
        err.println("kvmctl: unexpected error: " + e);
        e.printStackTrace(err);
        return KVM_ERROR;
    }
}
