package dev.kvmctl.docs;

import java.io.File;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.tools.Diagnostic;
import javax.tools.DiagnosticCollector;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.SimpleJavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

/**
 * Compiles documentation examples with the JDK's compiler against the test class path (the
 * library, its dependencies, {@link Given}), with the project's own strictness: every lint, and a
 * warning counts as a failure. A fragment becomes the body of
 * {@code void example() throws Exception} in a subclass of {@link Given}, after imports of every
 * public API package and the few JDK types examples use; a whole compilation unit is compiled as
 * it is. Every message is reported at the example's own file and line.
 */
final class DocExampleCompiler {
    /** What a fragment may use without importing it. */
    static final List<String> IMPORTS = List.of(
            "dev.kvmctl.*", "dev.kvmctl.state.*", "dev.kvmctl.contexts.*", "dev.kvmctl.guests.*",
            "dev.kvmctl.guests.devices.*", "dev.kvmctl.guests.shm.*", "dev.kvmctl.memory.*",
            "java.nio.charset.StandardCharsets", "java.nio.file.*", "java.time.Duration", "java.util.*");

    private static final String PACKAGE = "dev.kvmctl.docs.examples";
    private static final Pattern PACKAGE_DECLARATION = Pattern.compile("(?m)^package\\s+([\\w.]+)\\s*;");
    private static final Pattern PUBLIC_TYPE = Pattern.compile("(?m)^public\\s+(?:final\\s+|abstract\\s+)*(?:class|interface|record|enum)\\s+(\\w+)");
    private static final Pattern ANY_TYPE = Pattern.compile("(?m)^(?:final\\s+|abstract\\s+)*(?:class|interface|record|enum)\\s+(\\w+)");

    /** A compiler message at an example's line. */
    record Failure(DocExample example, long line, String kind, String message) {
        @Override
        public String toString() {
            return example.file() + ":" + line + ": " + kind + ": " + message;
        }
    }

    /** One example as a source file: its class, and the line of the source its first line is on. */
    private record Source(DocExample example, String className, String text, int firstLine) {}

    private DocExampleCompiler() {}

    /**
     * Compiles {@code examples} into {@code classes} (as {@code dev.kvmctl.docs.examples.ExampleN}
     * for fragments; under their own names for units).
     *
     * @return every error and warning, at the example's file and line; empty when all compiled cleanly
     */
    static List<Failure> compile(List<DocExample> examples, Path classes) {
        List<Source> sources = new ArrayList<>();
        Map<String, DocExample> classNames = new HashMap<>();
        for (int i = 0; i < examples.size(); i++) {
            Source s = source(examples.get(i), i);
            DocExample clash = classNames.put(s.className(), s.example());
            if (clash != null) {
                throw new IllegalStateException(s.example().where() + " declares " + s.className()
                        + ", as " + clash.where() + " does: give one of them another name");
            }
            sources.add(s);
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        if (javac == null) {
            throw new IllegalStateException("no Java compiler in " + System.getProperty("java.home") + ": run the tests on a JDK");
        }
        DiagnosticCollector<JavaFileObject> diagnostics = new DiagnosticCollector<>();
        Map<JavaFileObject, Source> byFile = new IdentityHashMap<>();
        for (Source s : sources) {
            byFile.put(new InMemorySource(s), s);
        }
        // should-stop.ifError=FLOW: a syntax error in one example must not hide type errors in the others.
        List<String> options = List.of("-classpath", classPath(), "-d", classes.toString(), "-proc:none",
                "-Xlint:all,-processing,-options,-path", "-Xmaxerrs", "10000", "-Xmaxwarns", "10000", "-encoding", "UTF-8",
                "-XDshould-stop.ifError=FLOW");
        try (StandardJavaFileManager files = javac.getStandardFileManager(diagnostics, Locale.ROOT, StandardCharsets.UTF_8)) {
            javac.getTask(null, files, diagnostics, options, null, byFile.keySet()).call();
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        List<Failure> failures = new ArrayList<>();
        for (Diagnostic<? extends JavaFileObject> d : diagnostics.getDiagnostics()) {
            if (d.getKind() == Diagnostic.Kind.NOTE || d.getKind() == Diagnostic.Kind.OTHER) {
                continue;
            }
            Source s = d.getSource() == null ? null : byFile.get(d.getSource());
            if (s == null) {
                throw new IllegalStateException("the compiler said, about no example: " + d.getMessage(Locale.ROOT));
            }
            long line = s.example().line() + d.getLineNumber() - s.firstLine();
            String kind = d.getKind() == Diagnostic.Kind.ERROR ? "error" : "warning";
            failures.add(new Failure(s.example(), line, kind, d.getMessage(Locale.ROOT).lines().map(String::strip)
                    .collect(java.util.stream.Collectors.joining("; "))));
        }
        failures.sort(java.util.Comparator.comparing((Failure f) -> f.example().file().toString()).thenComparingLong(Failure::line));
        return failures;
    }

    /** The class path the tests run with, which holds the library and {@link Given}. */
    static String classPath() {
        // Surefire may start the test JVM from a manifest-only jar; it names the real class path here.
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    /** The fully qualified name of the (first public) class a compilation unit declares. */
    static String unitClassName(DocExample unit) {
        Matcher pkg = PACKAGE_DECLARATION.matcher(unit.code());
        Matcher type = PUBLIC_TYPE.matcher(unit.code());
        if (!type.find()) {
            type = ANY_TYPE.matcher(unit.code());
            if (!type.find()) {
                throw new IllegalStateException(unit.where() + ": a compilation unit that declares no type");
            }
        }
        return (pkg.find() ? pkg.group(1) + "." : "") + type.group(1);
    }

    private static Source source(DocExample example, int index) {
        if (example.isUnit()) {
            return new Source(example, unitClassName(example), example.code(), 1);
        }
        String simple = "Example" + index;
        String pkg = example.insidePackage() != null ? example.insidePackage() : PACKAGE;
        StringBuilder text = new StringBuilder("package " + pkg + ";\n");
        for (String i : IMPORTS) {
            text.append("import ").append(i).append(";\n");
        }
        text.append("final class ").append(simple).append(" extends ").append(Given.class.getName()).append(" {\n");
        text.append("    void example() throws Exception {\n");
        int firstLine = (int) text.chars().filter(c -> c == '\n').count() + 1;
        text.append(example.fragmentBody());
        text.append("    }\n}\n");
        return new Source(example, pkg + "." + simple, text.toString(), firstLine);
    }

    /** A source file held in memory, named as its public class requires. */
    private static final class InMemorySource extends SimpleJavaFileObject {
        private final String text;

        InMemorySource(Source s) {
            super(URI.create("string:///" + s.className().replace('.', '/') + Kind.SOURCE.extension), Kind.SOURCE);
            this.text = s.text();
        }

        @Override
        public CharSequence getCharContent(boolean ignoreEncodingErrors) {
            return text;
        }
    }

    /** The class path as a list, for running a compiled program in a new JVM. */
    static String runClassPath(Path classes) {
        return classes + File.pathSeparator + classPath();
    }
}
