package dev.kvmctl.docs;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * One code example as a reader sees it: the {@code <pre>{@code ...}</pre>} blocks of Javadoc
 * comments and the {@code ```java} blocks of Markdown files, with where it starts.
 *
 * <p>Two kinds: a whole compilation unit (it declares a top-level type, or starts with
 * {@code package} or {@code import}), compiled as it is; or a fragment, compiled as a method body
 * with the {@link Given} variables in scope. In a fragment, a line that is only {@code ...}, and
 * {@code { ... }}, stand for code left out; any other {@code ...} must be Java (varargs).
 *
 * <p>A fragment is compiled outside kvmctl's packages, as a user's code is, unless it documents a
 * type that is not API (not public, or in {@code dev.kvmctl.internal}: kvmctl's own notes, not in
 * the published Javadoc): then it is compiled in that type's package, where the type can be seen.
 *
 * @param file where the example is written
 * @param line the line of {@code file} that holds the example's first line
 * @param code the example, with Javadoc's leading {@code *} removed
 * @param insidePackage the package to compile the fragment in, or null for outside kvmctl's
 */
record DocExample(Path file, int line, String code, String insidePackage) {
    private static final Pattern TOP_LEVEL_TYPE =
            Pattern.compile("(?m)^(public |final |abstract |sealed |non-sealed )*(class|interface|record|enum) \\w+");
    private static final Pattern UNIT_START = Pattern.compile("(?s)^\\s*(package|import)\\s.*");
    private static final Pattern JAVADOC_MARGIN = Pattern.compile("^\\s*\\*( |$)");
    private static final Pattern PACKAGE = Pattern.compile("(?m)^package\\s+([\\w.]+)\\s*;");
    private static final String PRE_START = "<pre>{@code";
    private static final String PRE_END = "}</pre>";

    /** Whether the example is a whole compilation unit rather than a fragment. */
    boolean isUnit() {
        return UNIT_START.matcher(code).matches() || TOP_LEVEL_TYPE.matcher(code).find();
    }

    /** The fragment as Java: the elisions a reader understands become comments. */
    String fragmentBody() {
        return code.replaceAll("(?m)^(\\s*)\\.\\.\\.\\s*$", "$1// ...").replace("{ ... }", "{ /* ... */ }");
    }

    /** {@code file:line}, for messages. */
    String where() {
        return file + ":" + line;
    }

    /** Every {@code <pre>{@code ...}</pre>} example in the {@code .java} files under {@code root}. */
    static List<DocExample> javadocExamples(Path root) {
        List<DocExample> out = new ArrayList<>();
        try (Stream<Path> files = Files.walk(root)) {
            for (Path f : (Iterable<Path>) files.filter(p -> p.toString().endsWith(".java")).sorted()::iterator) {
                out.addAll(javadocExamplesIn(f));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out;
    }

    /** The {@code <pre>{@code ...}</pre>} examples of one source file. */
    static List<DocExample> javadocExamplesIn(Path file) {
        List<String> lines = readLines(file);
        String inside = null;
        String type = file.getFileName().toString().replaceFirst("\\.java$", "");
        java.util.regex.Matcher pkg = PACKAGE.matcher(String.join("\n", lines));
        if (pkg.find() && !type.equals("package-info") && (pkg.group(1).startsWith("dev.kvmctl.internal")
                || !Pattern.compile("(?m)^public\\s+(\\w+\\s+)*(class|interface|record|enum)\\s+" + type + "\\b")
                        .matcher(String.join("\n", lines)).find())) {
            inside = pkg.group(1);
        }
        List<DocExample> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            int start = lines.get(i).indexOf(PRE_START);
            if (start < 0) {
                continue;
            }
            StringBuilder code = new StringBuilder();
            int first = i + 1;
            String rest = lines.get(i).substring(start + PRE_START.length());
            if (!rest.isBlank()) {
                first = i;
                code.append(rest.strip()).append('\n');
            }
            int j = i + 1;
            for (; j < lines.size() && !lines.get(j).contains(PRE_END); j++) {
                code.append(JAVADOC_MARGIN.matcher(lines.get(j)).replaceFirst("")).append('\n');
            }
            if (j == lines.size()) {
                throw new IllegalStateException(file + ":" + (i + 1) + ": " + PRE_START + " without " + PRE_END);
            }
            String last = JAVADOC_MARGIN.matcher(lines.get(j)).replaceFirst("");
            last = last.substring(0, last.indexOf(PRE_END));
            if (!last.isBlank()) {
                code.append(last).append('\n');
            }
            out.add(new DocExample(file, first + 1, code.toString(), inside));
            i = j;
        }
        return out;
    }

    /** The {@code ```java} blocks of a Markdown file. */
    static List<DocExample> markdownExamples(Path file) {
        List<String> lines = readLines(file);
        List<DocExample> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            if (!lines.get(i).strip().equals("```java")) {
                continue;
            }
            StringBuilder code = new StringBuilder();
            int j = i + 1;
            for (; j < lines.size() && !lines.get(j).strip().equals("```"); j++) {
                code.append(lines.get(j)).append('\n');
            }
            if (j == lines.size()) {
                throw new IllegalStateException(file + ":" + (i + 1) + ": ```java block without its closing ```");
            }
            out.add(new DocExample(file, i + 2, code.toString(), null));
            i = j;
        }
        return out;
    }

    /**
     * The block of the given info string ({@code text}, {@code sh}, ...) that follows the
     * {@code ```java} block starting at {@code javaLine}, with only blank lines and prose between
     * them: a program's output as the document states it. Null when there is none.
     */
    static String blockAfter(Path file, int javaLine, String info) {
        List<String> lines = readLines(file);
        int i = javaLine - 1;
        while (i < lines.size() && !lines.get(i).strip().equals("```")) {
            i++;
        }
        for (i++; i < lines.size(); i++) {
            String l = lines.get(i).strip();
            if (l.equals("```" + info)) {
                StringBuilder out = new StringBuilder();
                for (i++; i < lines.size() && !lines.get(i).strip().equals("```"); i++) {
                    out.append(lines.get(i)).append('\n');
                }
                return out.toString();
            }
            if (l.startsWith("```") || l.startsWith("#")) {
                return null;
            }
        }
        return null;
    }

    private static List<String> readLines(Path file) {
        try {
            return Files.readAllLines(file);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
