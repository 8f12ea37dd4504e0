package dev.kvmctl.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import java.io.File;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarFile;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A consumer project that only declares the {@code dev.kvmctl:kvmctl} dependency can create a VM
 * and run a guest with no extra set-up: no native library to install, no
 * {@code -Djava.library.path}, no JVM flags.
 *
 * <p>The just-built library ({@code java/lib/target/kvmctl-VERSION.jar} with its flattened pom,
 * which names no parent) is installed into a <em>fresh, empty</em> local repository, so nothing
 * stale from {@code ~/.m2} can stand in for it and {@code ~/.m2} is left untouched. Third-party artifacts (kvmctl's own dependencies and
 * the Maven plugins) are found through a settings file that lists the outer build's local
 * repository as a {@code file://} repository ahead of Maven Central: after kvmctl's own build they
 * are all there. The install step may still fetch its own plugin from Maven Central; the consumer's
 * builds run offline with only {@code file://} repositories allowed, and the test asserts that
 * every artifact they resolved came from the outer repository. The example project
 * {@code examples/consumer} is copied to a temporary directory and then
 * <ol>
 *   <li>built and run with {@code mvn compile exec:java}, as its README tells a user;
 *   <li>run again in a fresh JVM on the classpath Maven resolved ({@code exec:exec} with
 *       {@code %classpath}: the thin library jar from the fresh repository plus its dependencies),
 *       with an empty JavaCPP cache, which must end up holding the shim extracted from that jar;
 *   <li>run with nothing but the self-contained {@code target/kvmctl.jar} on the classpath, once
 *       for a clean exit and once for a guest that faults (exit status 125).
 * </ol>
 */
class ExampleConsumerIT {
    private static final String SHIM = "dev/kvmctl/internal/bridge/linux-x86_64/libjniShim.so";
    private static final String INSTALL_FILE = "org.apache.maven.plugins:maven-install-plugin:3.1.2:install-file";
    private static final long STEP_TIMEOUT_S = 240;

    @TempDir
    Path tmp;

    @Test
    void aProjectThatOnlyDeclaresTheDependencyRunsAGuest() throws Exception {
        KvmAvailable.assumeKvm();
        String version = property("kvmctl.version");
        Path basedir = Paths.get(property("kvmctl.basedir"));
        Path thinJar = Paths.get(property("kvmctl.library.jar"));
        Path libraryPom = Paths.get(property("kvmctl.library.pom"));
        Path shadedJar = Paths.get(System.getProperty("kvmctl.jar", basedir.resolve("target/kvmctl.jar").toString()));
        Path mvn = onPath("mvn");
        KvmAvailable.require(mvn != null, "there is no 'mvn' on PATH to build the example project with");
        assertTrue(Files.isRegularFile(thinJar), thinJar + " is missing: run after 'package'");

        try (JarFile jar = new JarFile(thinJar.toFile())) {
            assertNotNull(jar.getEntry(SHIM), "the library jar carries the native shim " + SHIM);
            assertNotNull(jar.getEntry("dev/kvmctl/guests/images/images.properties"), "the library jar carries the built-in images");
        }

        // 1. kvmctl into a fresh local repository.
        Path repo = tmp.resolve("repo");
        Path settings = writeSettings(outerRepository());
        List<String> maven = List.of(mvn.toString(), "-B", "-ntp", "-gs", settings.toString(), "-Dmaven.repo.local=" + repo);
        Proc install = run(tmp, concat(maven, INSTALL_FILE, "-Dfile=" + thinJar, "-DpomFile=" + libraryPom));
        assertEquals(0, install.status, "install-file failed:\n" + install.tail());
        Path installed = repo.resolve("dev/kvmctl/kvmctl/" + version + "/kvmctl-" + version + ".jar");
        assertTrue(Files.isRegularFile(installed), "installed " + installed);
        Set<String> fetchedByInstall = notFromOuterRepository(repo);

        // 2. The example, as a user runs it. Offline, with only file:// repositories allowed: the
        //    build can reach the outer build's local repository and never Maven Central.
        Path project = tmp.resolve("consumer");
        copyProject(basedir.resolve("examples/consumer"), project);
        List<String> consumer = concat(maven, "-o", "-Daether.offline.protocols=file", "-Dkvmctl.version=" + version);
        Proc hello = run(project, concat(consumer, "compile", "exec:java"));
        assertEquals(0, hello.status, "mvn compile exec:java failed:\n" + hello.tail());
        assertTrue(hello.output.contains("guest says: hello from a library user\n"), hello.tail());

        // 3. A fresh JVM on Maven's resolved classpath (the thin jar + its dependencies), empty JavaCPP cache.
        Path cache = tmp.resolve("javacpp-cache");
        String jvmFlags = jvmFlags() + "-Dorg.bytedeco.javacpp.cachedir=" + cache;
        Proc builtin = run(project, concat(consumer, "exec:exec", "-Dexec.executable=" + javaBin(),
                "-Dexec.args=" + jvmFlags + " -cp %classpath dev.kvmctl.examples.RunBuiltinImage hello-long"));
        assertEquals(0, builtin.status, "exec:exec RunBuiltinImage failed:\n" + builtin.tail());
        assertTrue(builtin.output.contains("Hello from long mode, ring 3\n"), builtin.tail());
        assertTrue(builtin.output.contains("hello-long.elf: EXITED, status 0"), builtin.tail());
        Path extracted = cache.resolve("kvmctl-" + version + ".jar").resolve(SHIM);
        assertTrue(Files.isRegularFile(extracted), "the shim was loaded from the library jar into the fresh cache: "
                + extracted + " (cache holds " + list(cache) + ")");

        // 4. The self-contained jar alone.
        String classpath = project.resolve("target/classes") + File.pathSeparator + shadedJar;
        Proc alone = run(project, java(cache.resolveSibling("cache2"), classpath, "dev.kvmctl.examples.Hello"));
        assertEquals(0, alone.status, alone.tail());
        assertEquals("guest says: hello from a library user\n", alone.stdoutOnly(), alone.tail());
        Proc faulted = run(project, java(cache.resolveSibling("cache2"), classpath, "dev.kvmctl.examples.RunBuiltinImage", "fault"));
        assertEquals(125, faulted.status, "a faulting guest's status reaches the process: " + faulted.tail());
        assertTrue(faulted.output.contains("fault.elf: FAULTED, status 125"), faulted.tail());
        System.out.printf("example consumer: install %.1f s, compile+exec:java %.1f s, exec:exec %.1f s, jar alone %.1f s + %.1f s%n",
                install.seconds, hello.seconds, builtin.seconds, alone.seconds, faulted.seconds);
        System.out.println("example consumer: artifacts in the fresh repository by source: " + sources(repo));

        // Nothing the consumer's builds resolved came from anywhere but the outer build's local
        // repository (what the install step fetched for itself is the harness's, not the consumer's).
        Set<String> fetched = notFromOuterRepository(repo);
        fetched.removeAll(fetchedByInstall);
        assertEquals(Set.of(), fetched, "the consumer's builds resolved artifacts from outside the outer build's local "
                + "repository " + outerRepository() + " (Maven Central?); by source: " + sources(repo));
    }

    /**
     * The artifact files of the fresh repository that came from a remote repository other than the
     * outer build's local one, as {@code _remote.repositories} records them ("dir/file>source").
     */
    private static Set<String> notFromOuterRepository(Path repo) throws IOException {
        Set<String> elsewhere = new TreeSet<>();
        try (Stream<Path> files = Files.walk(repo)) {
            for (Path f : files.filter(p -> p.getFileName().toString().equals("_remote.repositories")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    int gt = line.indexOf('>');
                    String source = gt > 0 && line.endsWith("=") ? line.substring(gt + 1, line.length() - 1) : null;
                    if (!line.startsWith("#") && source != null && !source.isEmpty() && !source.equals("outer-local")) {
                        elsewhere.add(repo.relativize(f.getParent()) + "/" + line);
                    }
                }
            }
        }
        return elsewhere;
    }

    /** How many artifact files the fresh repository got from each repository ({@code _remote.repositories}). */
    private static java.util.Map<String, Long> sources(Path repo) throws IOException {
        java.util.Map<String, Long> bySource = new java.util.TreeMap<>();
        try (Stream<Path> files = Files.walk(repo)) {
            for (Path f : files.filter(p -> p.getFileName().toString().equals("_remote.repositories")).toList()) {
                for (String line : Files.readAllLines(f)) {
                    int eq = line.indexOf(">");
                    if (!line.startsWith("#") && eq > 0 && line.endsWith("=")) {
                        String source = line.substring(eq + 1, line.length() - 1);
                        bySource.merge(source.isEmpty() ? "installed" : source, 1L, Long::sum);
                    }
                }
            }
        }
        return bySource;
    }

    // ---- helpers ----

    private static String property(String name) {
        String v = System.getProperty(name);
        KvmAvailable.require(v != null, "-D" + name + " is not set (run through failsafe: mvn verify)");
        return v;
    }

    /**
     * The local repository the outer build resolved its dependencies from: where Guava (a kvmctl
     * dependency, so on this test's classpath) was loaded, five levels up from its jar.
     */
    static Path outerRepository() throws URISyntaxException {
        Path jar = Paths.get(com.google.common.base.Preconditions.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path root = jar;
        for (int i = 0; i < 5 && root != null; i++) {
            root = root.getParent(); // version, artifact, guava, google, com
        }
        if (root != null && Files.isDirectory(root.resolve("com/google/guava/guava"))) {
            return root;
        }
        return Paths.get(System.getProperty("user.home"), ".m2", "repository");
    }

    /** Global settings: the outer local repository as a file:// repository (releases only), before Central. */
    private Path writeSettings(Path outer) throws IOException {
        String url = outer.toUri().toString();
        String repository = "<id>outer-local</id><url>" + url + "</url>"
                + "<releases><checksumPolicy>ignore</checksumPolicy></releases><snapshots><enabled>false</enabled></snapshots>";
        String xml = "<settings><profiles><profile><id>outer-local</id>"
                + "<repositories><repository>" + repository + "</repository></repositories>"
                + "<pluginRepositories><pluginRepository>" + repository + "</pluginRepository></pluginRepositories>"
                + "</profile></profiles><activeProfiles><activeProfile>outer-local</activeProfile></activeProfiles></settings>\n";
        Path settings = tmp.resolve("settings.xml");
        Files.writeString(settings, xml);
        return settings;
    }

    private static void copyProject(Path from, Path to) throws IOException {
        try (Stream<Path> files = Files.walk(from)) {
            for (Path p : files.toList()) {
                Path rel = from.relativize(p);
                if (rel.startsWith("target")) {
                    continue;
                }
                Path dest = to.resolve(rel.toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(dest);
                } else {
                    Files.copy(p, dest);
                }
            }
        }
    }

    private static List<String> java(Path javacppCache, String classpath, String... mainAndArgs) {
        List<String> cmd = new ArrayList<>(List.of(javaBin()));
        cmd.addAll(Arrays.asList(jvmFlags().trim().split(" ")));
        cmd.removeIf(String::isEmpty);
        cmd.add("-Dorg.bytedeco.javacpp.cachedir=" + javacppCache);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.addAll(Arrays.asList(mainAndArgs));
        return cmd;
    }

    /** The flags kvmctl's own build adds on JDK 22+ (see the jdk25 profile); none on 17. */
    private static String jvmFlags() {
        return Runtime.version().feature() >= 22 ? "--enable-native-access=ALL-UNNAMED -Djffi.unsafe.disabled=true " : "";
    }

    private static String javaBin() {
        return Paths.get(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static Path onPath(String command) {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Paths.get(dir, command);
            if (Files.isExecutable(p)) {
                return p;
            }
        }
        return null;
    }

    private static List<String> concat(List<String> head, String... tail) {
        List<String> all = new ArrayList<>(head);
        all.addAll(Arrays.asList(tail));
        return all;
    }

    private static String list(Path dir) {
        if (!Files.exists(dir)) {
            return "nothing";
        }
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(dir::relativize).map(Path::toString).toList().toString();
        } catch (IOException e) {
            return e.toString();
        }
    }

    /** A finished child process: its status, its stdout and stderr, and how long it took. */
    private record Proc(int status, String output, String stdout, double seconds) {
        String tail() {
            return output.length() > 6000 ? "..." + output.substring(output.length() - 6000) : output;
        }

        String stdoutOnly() {
            return stdout;
        }
    }

    private Proc run(Path dir, List<String> command) throws IOException, InterruptedException {
        Path out = Files.createTempFile(tmp, "out", ".txt");
        Path err = Files.createTempFile(tmp, "err", ".txt");
        long t0 = System.nanoTime();
        Process p = new ProcessBuilder(command).directory(dir.toFile())
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(STEP_TIMEOUT_S, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(String.join(" ", command) + " did not finish in " + STEP_TIMEOUT_S + " s:\n"
                    + Files.readString(out) + Files.readString(err));
        }
        String stdout = Files.readString(out, StandardCharsets.UTF_8);
        String stderr = Files.readString(err, StandardCharsets.UTF_8);
        return new Proc(p.exitValue(), "$ " + String.join(" ", command) + "\n" + stdout + stderr, stdout,
                (System.nanoTime() - t0) / 1e9);
    }
}
