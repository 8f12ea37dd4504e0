package dev.kvmctl.docs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kvmctl.KvmAvailable;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every code example a library user reads is compiled, and every whole program is run: JDK 17's
 * javadoc has no {@code {@snippet}}, so this test plays its part.
 *
 * <ul>
 *   <li>the {@code <pre>{@code ...}</pre>} examples of the library's Javadoc (all of
 *       {@code src/main/java});
 *   <li>the {@code ```java} blocks of README.md, docs/*.md and examples/README.md;
 *   <li>a whole program in a document that is followed by a {@code ```text} block is run, and must
 *       print exactly that text (the README's first program, the guide's VMM);
 *   <li>the README's first program is {@code examples/consumer}'s {@code Hello.java}, character for
 *       character, so the program ExampleConsumerIT builds from Maven is the one the README shows.
 * </ul>
 *
 * <p>A fragment is compiled with the {@link Given} variables in scope; see {@link DocExample} and
 * {@link DocExampleCompiler} for the rules. A failure names the example's file and line and the
 * compiler's message.
 */
class JavadocExamplesTest {
    /** The library module (Surefire runs in it) and the repository root. */
    private static final Path MODULE = Path.of(System.getProperty("basedir", "")).toAbsolutePath();
    private static final Path ROOT = MODULE.resolve("../..").normalize();
    private static final Path HELLO = ROOT.resolve("examples/consumer/src/main/java/dev/kvmctl/examples/Hello.java");
    private static final long RUN_TIMEOUT_S = 120;

    @Test
    void everyJavadocExampleCompiles(@TempDir Path classes) {
        List<DocExample> examples = DocExample.javadocExamples(MODULE.resolve("src/main/java"));
        assertTrue(examples.size() > 50, "found only " + examples.size() + " Javadoc examples under " + MODULE);
        assertCompiles(examples, classes);
    }

    @Test
    void everyJavaBlockOfTheDocsCompiles(@TempDir Path classes) {
        List<DocExample> examples = documentExamples();
        assertTrue(examples.stream().anyMatch(e -> e.file().endsWith("README.md")), "the README's examples were found");
        assertTrue(examples.stream().anyMatch(e -> e.file().endsWith("writing-a-vmm.md")), "the guide's examples were found");
        assertCompiles(examples, classes);
    }

    @Test
    void theReadmesFirstProgramIsTheExampleProjectsHello() throws IOException {
        List<DocExample> hellos = DocExample.markdownExamples(ROOT.resolve("README.md")).stream()
                .filter(e -> e.isUnit() && DocExampleCompiler.unitClassName(e).endsWith(".Hello")).toList();
        assertEquals(1, hellos.size(), "README.md shows one Hello program");
        assertEquals(Files.readString(HELLO), hellos.get(0).code(),
                "README.md's first program (" + hellos.get(0).where() + ") differs from " + HELLO
                        + ", the program ExampleConsumerIT builds and runs: make them the same");
    }

    @Test
    void everyDocumentedProgramPrintsWhatItsDocumentSays(@TempDir Path classes) throws Exception {
        List<DocExample> programs = new ArrayList<>();
        List<String> outputs = new ArrayList<>();
        for (DocExample e : documentExamples()) {
            String output = e.isUnit() ? DocExample.blockAfter(e.file(), e.line(), "text") : null;
            if (output != null) {
                programs.add(e);
                outputs.add(output);
            }
        }
        assertTrue(programs.stream().anyMatch(e -> e.file().endsWith("README.md")), "the README's first program states its output");
        assertTrue(programs.stream().anyMatch(e -> e.file().endsWith("writing-a-vmm.md")), "the guide's program states its output");
        KvmAvailable.assumeKvm();
        assertCompiles(programs, classes);
        for (int i = 0; i < programs.size(); i++) {
            DocExample p = programs.get(i);
            assertEquals(outputs.get(i), run(DocExampleCompiler.unitClassName(p), classes, p),
                    p.where() + " printed something other than the output its document shows");
        }
    }

    /**
     * The harness itself: the three broken examples issue 10 found (MemorySlot's {@code long[]}
     * where {@code dirtyLog} returns a {@code BitSet}, EventFd's arguments in the wrong order,
     * CallDevice's call of a method that does not exist) fail, each at its own line.
     */
    @Test
    void theHarnessReportsEachBrokenExampleAtItsLine(@TempDir Path dir) throws IOException {
        Path source = dir.resolve("Broken.java");
        Files.writeString(source, String.join("\n",
                "/**",                                                                              // 1
                " * <pre>{@code",                                                                   // 2
                " * MemorySlot logged = vm.mapMemory(0x100000000L, ram, MemorySlot.LOG_DIRTY_PAGES);", // 3
                " * long[] dirty = vm.dirtyLog(logged);",                                           // 4
                " * }</pre>",                                                                       // 5
                " * <pre>{@code",                                                                   // 6
                " * try (EventFd doorbell = EventFd.create(false)) {",                             // 7
                " *     vm.registerIoEvent(doorbell, 0x500, 4, Vm.IoSpace.PIO);",                   // 8
                " *     ...",                                                                       // 9
                " * }",                                                                             // 10
                " * }</pre>",                                                                       // 11
                " * <pre>{@code",                                                                   // 12
                " * SharedMemoryHub hub = new SharedMemoryHub(null);",                              // 13
                " * machine.setCallDevice(0x510, hub.endpoint(0));",                                // 14
                " * }</pre>",                                                                       // 15
                " */",
                "final class Broken {}", ""));
        List<DocExample> examples = DocExample.javadocExamplesIn(source);
        assertEquals(List.of(3, 7, 13), examples.stream().map(DocExample::line).toList(), "where the examples start");

        List<DocExampleCompiler.Failure> failures = DocExampleCompiler.compile(examples, dir.resolve("classes"));

        assertEquals(List.of(4L, 8L, 14L), failures.stream().map(DocExampleCompiler.Failure::line).toList(), failures.toString());
        assertTrue(failures.stream().allMatch(f -> f.kind().equals("error")), failures.toString());
        assertTrue(failures.get(0).message().contains("BitSet cannot be converted to long[]"), failures.get(0).toString());
        assertTrue(failures.get(1).message().contains("int cannot be converted to dev.kvmctl.Vm.IoSpace"), failures.get(1).toString());
        assertTrue(failures.get(2).message().contains("int cannot be converted to dev.kvmctl.guests.Machine"), failures.get(2).toString());
        assertTrue(failures.get(0).toString().startsWith(source + ":4: error: "), failures.get(0).toString());
    }

    /** The names an example may use without declaring them are stated once, for readers, in the overview. */
    @Test
    void theGivenVariablesAreTheOnesTheOverviewLists() throws IOException {
        Path overview = MODULE.resolve("src/main/java/dev/kvmctl/package-info.java");
        Matcher m = Pattern.compile("<li>\\{@code (\\w+) (\\w+)}").matcher(Files.readString(overview));
        List<String> listed = new ArrayList<>();
        while (m.find()) {
            listed.add(m.group(1) + " " + m.group(2));
        }
        List<String> declared = Arrays.stream(Given.class.getDeclaredFields())
                .filter(f -> !Modifier.isStatic(f.getModifiers()))
                .map(JavadocExamplesTest::declaration).toList();
        assertFalse(declared.isEmpty());
        assertEquals(declared, listed, overview + " lists the variables examples may use; " + Given.class.getName() + " declares them");
    }

    private static String declaration(Field f) {
        return f.getType().getSimpleName() + " " + f.getName();
    }

    private static List<DocExample> documentExamples() {
        List<Path> documents = new ArrayList<>(List.of(ROOT.resolve("README.md"), ROOT.resolve("examples/README.md")));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(documents::add);
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        List<DocExample> out = new ArrayList<>();
        for (Path d : documents) {
            out.addAll(DocExample.markdownExamples(d));
        }
        return out;
    }

    private static void assertCompiles(List<DocExample> examples, Path classes) {
        List<DocExampleCompiler.Failure> failures = DocExampleCompiler.compile(examples, classes);
        if (!failures.isEmpty()) {
            fail(failures.size() + " problem(s) in " + failures.stream().map(DocExampleCompiler.Failure::example).distinct().count()
                    + " documentation example(s); each must compile without a warning:\n"
                    + failures.stream().map(Object::toString).collect(Collectors.joining("\n")));
        }
    }

    /** Runs {@code mainClass} in a new JVM; returns its standard output, failing on a non-zero exit. */
    private static String run(String mainClass, Path classes, DocExample program) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        if (Runtime.version().feature() >= 22) {
            command.add("--enable-native-access=ALL-UNNAMED");
        }
        command.addAll(List.of("-cp", DocExampleCompiler.runClassPath(classes), mainClass));
        Path out = Files.createTempFile(classes, "stdout", ".txt");
        Path err = Files.createTempFile(classes, "stderr", ".txt");
        Process p = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        p.getOutputStream().close();
        if (!p.waitFor(RUN_TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            fail(program.where() + " did not end within " + RUN_TIMEOUT_S + " s; stderr:\n" + Files.readString(err));
        }
        assertEquals(0, p.exitValue(), program.where() + " exited with " + p.exitValue() + "; stderr:\n" + Files.readString(err));
        return Files.readString(out, StandardCharsets.UTF_8);
    }
}
