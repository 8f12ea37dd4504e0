package dev.kvmctl.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The snapshot fuzzer example ({@code examples/fuzz}), built as a user builds it on the library
 * just packaged, finds the bug planted in {@code fuzz-target.elf}. As {@link ExampleConsumerIT}
 * does, it installs {@code java/lib/target/kvmctl-VERSION.jar} with its flattened pom into a fresh,
 * empty local repository (never {@code ~/.m2}), resolves everything else offline from the outer
 * build's local repository, and runs {@code mvn compile exec:java} in a copy of the project.
 *
 * <p>The search is deterministic for its seed, so it ends after the same number of executions on
 * any machine; the bound ({@code --max-execs}) is about twelve times what seed 1 needs, and the
 * verdict never depends on how fast the executions run.
 */
class ExampleFuzzIT {
    private static final String INSTALL_FILE = "org.apache.maven.plugins:maven-install-plugin:3.1.2:install-file";
    private static final long STEP_TIMEOUT_S = 300;
    private static final Pattern FOUND = Pattern.compile(
            "found the planted bug after ([\\d,]+) executions in [\\d.]+ s \\(([\\d,]+) exec/s, corpus \\d+\\): shutdown \\(triple fault\\)\n"
                    + "input: 4b 56 4d [0-9a-f]{2} ce fa 0d f0");

    @TempDir
    Path tmp;

    @Test
    void theFuzzerFindsThePlantedBug() throws Exception {
        KvmAvailable.assumeKvm();
        String version = property("kvmctl.version");
        Path basedir = Paths.get(property("kvmctl.basedir"));
        Path mvn = Paths.get("/usr/bin/mvn");
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (Files.isExecutable(Paths.get(dir, "mvn"))) {
                mvn = Paths.get(dir, "mvn");
                break;
            }
        }
        KvmAvailable.require(Files.isExecutable(mvn), "there is no 'mvn' on PATH to build the example project with");

        Path repo = tmp.resolve("repo");
        String outer = ExampleConsumerIT.outerRepository().toUri().toString();
        String repository = "<id>outer-local</id><url>" + outer + "</url>"
                + "<releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots>";
        Path settings = Files.writeString(tmp.resolve("settings.xml"), "<settings><profiles><profile><id>outer-local</id>"
                + "<repositories><repository>" + repository + "</repository></repositories>"
                + "<pluginRepositories><pluginRepository>" + repository + "</pluginRepository></pluginRepositories>"
                + "</profile></profiles><activeProfiles><activeProfile>outer-local</activeProfile></activeProfiles></settings>\n");
        List<String> maven = List.of(mvn.toString(), "-B", "-ntp", "-gs", settings.toString(), "-Dmaven.repo.local=" + repo);

        Proc install = run(tmp, concat(maven, INSTALL_FILE, "-Dfile=" + property("kvmctl.library.jar"),
                "-DpomFile=" + property("kvmctl.library.pom")));
        assertEquals(0, install.status, "install-file failed:\n" + install.output);

        Path project = tmp.resolve("fuzz");
        Path source = basedir.resolve("examples/fuzz");
        try (Stream<Path> files = Files.walk(source)) {
            for (Path p : files.filter(p -> !source.relativize(p).startsWith("target")).toList()) {
                Path dest = project.resolve(source.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(p, dest);
                }
            }
        }
        String jvm = Runtime.version().feature() >= 22 ? " --enable-native-access=ALL-UNNAMED -Djffi.unsafe.disabled=true" : "";
        Proc fuzz = run(project, concat(maven, "-o", "-Daether.offline.protocols=file", "-Dkvmctl.version=" + version,
                "compile", "exec:exec", "-Dexec.executable=" + Paths.get(System.getProperty("java.home"), "bin", "java"),
                "-Dexec.args=-Dorg.bytedeco.javacpp.cachedir=" + tmp.resolve("javacpp") + jvm
                        + " -cp %classpath dev.kvmctl.examples.fuzz.SnapshotFuzzer --seed 1 --max-execs 200000"));
        assertEquals(0, fuzz.status, "the fuzzer did not find the bug within 200,000 executions:\n" + fuzz.output);
        Matcher found = FOUND.matcher(fuzz.output);
        assertTrue(found.find(), "the fuzzer's report names the crash and an input with the magic:\n" + fuzz.output);
        System.out.printf("example fuzzer: bug found after %s executions (%s exec/s, a busy machine's figure)%n",
                found.group(1), found.group(2));
    }

    private static String property(String name) {
        String v = System.getProperty(name);
        KvmAvailable.require(v != null, "-D" + name + " is not set (run through failsafe: mvn verify)");
        return v;
    }

    private static List<String> concat(List<String> head, String... tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(List.of(tail));
        return all;
    }

    /** A finished child process: its status and its stdout and stderr together. */
    private record Proc(int status, String output) {}

    private Proc run(Path dir, List<String> command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(out.toFile()).start();
        if (!p.waitFor(STEP_TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " did not finish in " + STEP_TIMEOUT_S + " s:\n"
                    + Files.readString(out));
        }
        return new Proc(p.exitValue(), "$ " + String.join(" ", command) + "\n" + Files.readString(out, StandardCharsets.UTF_8));
    }
}
