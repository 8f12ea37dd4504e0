package dev.kvmctl.cli;

import dev.kvmctl.KvmException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.util.Set;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code java -jar kvmctl.jar}: the command line. Subcommands: {@code launch}, {@code info},
 * {@code images}.
 */
public final class Main {
    /** Exit status for a failed KVM operation, an unusable /dev/kvm, or an I/O error on a file. */
    static final int KVM_ERROR = 1;
    /** Exit status for bad input: options, images, sizes. */
    static final int USAGE_ERROR = 2;
    /** The commands that open KVM: their native libraries load while picocli parses ({@link Preload}). */
    private static final Set<String> NEEDS_KVM = Set.of("launch", "restore", "info");

    public static void main(String[] args) {
        if (Runtime.version().feature() >= 24 && System.getProperty("jffi.unsafe.disabled") == null) {
            // From JDK 24 on, jffi's sun.misc.Unsafe memory access prints a deprecation warning
            // at its first use; its JNI path says nothing and is fast enough for the CLI.
            System.setProperty("jffi.unsafe.disabled", "true");
        }
        if (args.length > 0 && NEEDS_KVM.contains(args[0])) {
            Preload.start(args[0]);
        }
        System.exit(run(args));
    }

    /** Runs the command line and returns the exit status (for tests and embedding). */
    public static int run(String... args) {
        CommandSpec spec = Specs.command(null, "kvmctl", "Runs small guests on Linux KVM (/dev/kvm) and shows what KVM can do.")
                .version("kvmctl 0.1.0");
        Specs.addHelpOptions(spec);
        CommandLine cli = Specs.commandLine(spec);
        addSubcommands(cli, args.length > 0 ? args[0] : "");
        cli.setExecutionExceptionHandler(Errors.INSTANCE);
        cli.setParameterExceptionHandler(Errors.INSTANCE);
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
     * usage error, an option of {@code kvmctl} itself): a {@code launch} has no use for the
     * models of {@code restore}, {@code info} and {@code images} (start-up time, issue 11).
     */
    private static void addSubcommands(CommandLine cli, String first) {
        switch (first) {
            case "launch" -> cli.addSubcommand(LaunchSpec.of(new LaunchCommand()));
            case "restore" -> cli.addSubcommand(RestoreCommand.spec(new RestoreCommand()));
            case "info" -> cli.addSubcommand(InfoCommand.spec(new InfoCommand()));
            case "images" -> cli.addSubcommand(ImagesCommand.spec(new ImagesCommand()));
            default -> {
                cli.addSubcommand(LaunchSpec.of(new LaunchCommand()));
                cli.addSubcommand(RestoreCommand.spec(new RestoreCommand()));
                cli.addSubcommand(InfoCommand.spec(new InfoCommand()));
                cli.addSubcommand(ImagesCommand.spec(new ImagesCommand()));
                cli.addSubcommand(new CommandLine.HelpCommand());
            }
        }
    }

    /**
     * picocli's error handlers. A named class, not method references: a lambda implementing one
     * of picocli's Java 5 interfaces cannot be kept in the class-data-sharing archive, and
     * spinning one at start costs milliseconds (issue 11).
     */
    private static final class Errors implements CommandLine.IExecutionExceptionHandler, CommandLine.IParameterExceptionHandler {
        static final Errors INSTANCE = new Errors();

        @Override
        public int handleExecutionException(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
            return handle(e, cli, parsed);
        }

        @Override
        public int handleParseException(CommandLine.ParameterException e, String[] args) {
            return badOption(e, args);
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
