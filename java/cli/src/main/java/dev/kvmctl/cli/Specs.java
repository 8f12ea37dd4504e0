package dev.kvmctl.cli;

import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.function.Consumer;
import picocli.CommandLine;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.IGetter;
import picocli.CommandLine.Model.ISetter;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.TypeConversionException;

/**
 * Builds the commands' picocli models in code. picocli's annotations would cost every start
 * about 55 ms of reflection, annotation proxies and method-handle spinning that a JDK 17
 * class-data-sharing archive cannot hold (issue 11); a model built here is a few plain objects.
 * Each option writes its value into the command's field through a {@link Consumer}.
 */
final class Specs {
    /**
     * Which of picocli's built-in converters it should leave out: all of those it registers by
     * reflection (for the {@code java.time}, {@code java.sql} and {@code java.nio.file.Path}
     * types), at every {@link CommandLine}, initializing each class ({@code java.time}'s
     * formatters among them): about 10 ms that kvmctl has no use for. Its options name their
     * converters (a path's is {@link PathConverter}).
     */
    private static final String UNUSED_CONVERTERS = ".*";

    private Specs() {}

    /** The command line of {@code root}, without the built-in converters kvmctl does not use. */
    static CommandLine commandLine(CommandSpec root) {
        if (System.getProperty("picocli.converters.excludes") == null) {
            System.setProperty("picocli.converters.excludes", UNUSED_CONVERTERS);
        }
        return new CommandLine(root);
    }

    /**
     * A command named {@code name} that runs {@code command} (a {@code Callable}); the caller
     * adds its options, then {@link #addHelpOptions}.
     */
    static CommandSpec command(Object command, String name, String... description) {
        CommandSpec spec = CommandSpec.wrapWithoutInspection(command).name(name);
        spec.usageMessage().description(description);
        return spec;
    }

    /**
     * Adds {@code -h, --help} and {@code -V, --version} as picocli's
     * {@code mixinStandardHelpOptions} would (the same mixin key, texts and place in the help),
     * without the annotated class it reads them from.
     */
    static void addHelpOptions(CommandSpec spec) {
        CommandSpec help = CommandSpec.create();
        help.addOption(OptionSpec.builder("-h", "--help").usageHelp(true).hasInitialValue(false)
                .description("Show this help message and exit.").build());
        help.addOption(OptionSpec.builder("-V", "--version").versionHelp(true).hasInitialValue(false)
                .description("Print version information and exit.").build());
        spec.addMixin("mixinStandardHelpOptions", help);
    }

    /** An option of one value of {@code type} (picocli's converter for it unless the caller sets one) that {@code set} stores. */
    static <T> OptionSpec.Builder option(String name, String label, Class<T> type, Consumer<? super T> set) {
        Binding<T> binding = new Binding<>(set);
        return OptionSpec.builder(name).paramLabel(label).type(type).converters(converter(type)).setter(binding).getter(binding)
                .hasInitialValue(false);
    }

    /** An option without a value: {@code set} gets {@code true} when it is given. */
    static OptionSpec.Builder flag(String name, Consumer<Boolean> set) {
        Binding<Boolean> binding = new Binding<>(set);
        return OptionSpec.builder(name).type(Boolean.TYPE).arity("0").setter(binding).getter(binding).hasInitialValue(false);
    }

    /** An option that may be repeated: {@code set} gets the list of every value, in order, once it is given. */
    static <T> OptionSpec.Builder list(String name, String label, Class<T> element, Consumer<List<T>> set) {
        Binding<List<T>> binding = new Binding<>(set);
        return OptionSpec.builder(name).paramLabel(label).type(List.class).auxiliaryTypes(element).converters(converter(element))
                .setter(binding).getter(binding).hasInitialValue(false);
    }

    /** A required positional parameter at {@code index} (e.g. {@code "0"}) of {@code type}. */
    static <T> PositionalParamSpec.Builder parameter(String index, String label, Class<T> type, Consumer<? super T> set) {
        Binding<T> binding = new Binding<>(set);
        return PositionalParamSpec.builder().index(index).arity("1").required(true).paramLabel(label).type(type)
                .converters(converter(type)).setter(binding).getter(binding).hasInitialValue(false);
    }

    /** The list of every positional parameter from {@code index} on (e.g. {@code "1..*"}), none or more. */
    static <T> PositionalParamSpec.Builder parameters(String index, String label, Class<T> element, Consumer<List<T>> set) {
        Binding<List<T>> binding = new Binding<>(set);
        return PositionalParamSpec.builder().index(index).arity("0..*").paramLabel(label).type(List.class).auxiliaryTypes(element)
                .converters(converter(element)).setter(binding).getter(binding).hasInitialValue(false);
    }

    /** The converter of {@code type} that picocli no longer registers itself ({@link #UNUSED_CONVERTERS}); none for others. */
    private static ITypeConverter<?>[] converter(Class<?> type) {
        return type == Path.class ? new ITypeConverter<?>[] {new PathConverter()} : new ITypeConverter<?>[0];
    }

    /** A path, with the message picocli's own converter gives for one the file system cannot take. */
    private static final class PathConverter implements ITypeConverter<Path> {
        @Override
        public Path convert(String value) {
            try {
                return Paths.get(value);
            } catch (InvalidPathException e) {
                throw new TypeConversionException("cannot convert '" + value + "' to " + Path.class + " (" + e + ")");
            }
        }
    }

    /**
     * Hands a converted value to a field. A named class, not a lambda: picocli's interfaces are of
     * Java 5's class-file version, and a lambda implementing one cannot be kept in the archive.
     * For a list picocli reads back the list it set and adds each further value to it, so the
     * binding remembers what it was given.
     */
    private static final class Binding<T> implements ISetter, IGetter {
        private final Consumer<? super T> target;
        private T value;

        Binding(Consumer<? super T> target) {
            this.target = target;
        }

        @Override
        @SuppressWarnings("unchecked") // picocli converted the value to the type the option was declared with
        public <V> V set(V value) {
            T previous = this.value;
            this.value = (T) value;
            target.accept(this.value);
            return (V) previous;
        }

        @Override
        @SuppressWarnings("unchecked")
        public <V> V get() {
            return (V) value;
        }
    }
}
