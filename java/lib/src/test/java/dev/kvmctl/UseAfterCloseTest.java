package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.kvmctl.guests.shm.SharedRegion;
import dev.kvmctl.state.Regs;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every public method of {@link Kvm}, {@link Vm}, {@link Vcpu}, every {@link VmExit} type,
 * {@link GuestMemory}, {@link SharedRegion}, {@link EventFd}, {@link UserFaultFd} and the {@code dev.kvmctl.state}
 * structs, called after close in each close order, each scenario in its own child JVM
 * ({@link UseAfterCloseProbe}) so that a crash is seen as a crash and names the call that was
 * running. Closed objects must refuse with {@link IllegalStateException} (bar the few documented
 * answers in {@link UseAfterCloseProbe#mayAnswer}); structs kept past a close must simply work.
 * Methods are found by reflection, here and in the child: a new public method is called without
 * anyone listing it, and one the child cannot call fails the test.
 */
class UseAfterCloseTest {
    private static final long LIMIT_SECONDS = 120;
    /** Which (class, method) pairs some scenario called, to prove every one was. */
    private static final Set<String> called = new HashSet<>();
    private static final Set<String> scenariosRun = new HashSet<>();
    private static final List<String> SCENARIOS = List.of("kvm", "vcpu", "vm", "vcpu-then-vm", "vm-then-vcpu",
            "memory", "memory-before-vm", "vm-before-memory", "eventfd", "userfaultfd", "races", "issue9");

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    static Stream<String> scenarios() {
        return SCENARIOS.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("scenarios")
    void closedObjectsRefuseAndNothingCrashes(String scenario) throws IOException, InterruptedException {
        Child child = Child.run(scenario);
        List<String> problems = new ArrayList<>();
        Map<String, Target> targets = new LinkedHashMap<>();
        Map<String, String> results = new LinkedHashMap<>();
        String running = null;
        int checks = 0;
        for (String line : child.output.split("\n")) {
            String[] f = line.split(" ", 4);
            switch (f[0]) {
                case "TARGET" -> targets.put(f[1], new Target(f[1], load(f[2]), f[3].trim()));
                case "CALL" -> running = f[1] + " " + f[2];
                case "RESULT" -> {
                    results.put(f[1] + " " + f[2], f[3]);
                    running = null;
                }
                case "NOARGS" -> problems.add("no argument of type " + f[3] + " for " + f[2] + " on " + f[1]
                        + ": teach UseAfterCloseProbe.Helpers to make one");
                case "CHECK" -> {
                    checks++;
                    if (!f[2].equals("ok")) {
                        problems.add("check " + f[1] + " failed: " + (f.length > 3 ? f[3] : ""));
                    }
                }
                default -> { }
            }
        }
        if (child.status != 0 || !child.output.contains("DONE " + scenario)) {
            fail("the child JVM of scenario '" + scenario + "' did not finish normally ("
                    + (child.timedOut ? "killed after " + LIMIT_SECONDS + " s" : "exit status " + child.status)
                    + (running != null ? "; it was running " + running : "") + "):\n" + child.tail());
        }
        for (Target t : targets.values()) {
            for (Method m : UseAfterCloseProbe.publicMethods(t.type)) {
                String key = t.label + " " + UseAfterCloseProbe.signature(m);
                String result = results.get(key);
                called.add(t.type.getName() + "#" + UseAfterCloseProbe.signature(m));
                if (result == null) {
                    problems.add(key + ": never called");
                } else if (t.expectation.equals("closed") && !UseAfterCloseProbe.mayAnswer(t.type, m)
                        && !result.startsWith("REFUSED IllegalStateException")) {
                    problems.add(key + ": must refuse with IllegalStateException once closed, but " + result);
                } else if (t.expectation.equals("closed") && UseAfterCloseProbe.mayAnswer(t.type, m)
                        && !result.startsWith("RETURNED")) {
                    problems.add(key + ": documented to answer once closed, but " + result);
                }
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertTrue(!targets.isEmpty() || checks > 0, "scenario " + scenario + " tested nothing");
        scenariosRun.add(scenario);
    }

    /** After all scenarios: every public method of every type the issue lists was called after a close. */
    @AfterAll
    static void everyPublicMethodWasCalled() throws IOException, URISyntaxException {
        if (!scenariosRun.containsAll(SCENARIOS)) {
            return; // a scenario failed (reported) or only some were selected
        }
        List<Class<?>> required = new ArrayList<>(List.of(Kvm.class, Vm.class, Vcpu.class, GuestMemory.class,
                SharedRegion.class, EventFd.class, Device.class, Stats.class, GuestMemfd.class, DirtyRing.class));
        required.addAll(List.of(VmExit.class.getPermittedSubclasses()));
        required.addAll(stateTypes());
        Set<String> missing = new TreeSet<>();
        for (Class<?> type : required) {
            for (Method m : UseAfterCloseProbe.publicMethods(type)) {
                if (!called.contains(type.getName() + "#" + UseAfterCloseProbe.signature(m))) {
                    missing.add(type.getSimpleName() + "#" + UseAfterCloseProbe.signature(m));
                }
            }
        }
        assertTrue(missing.isEmpty(), "public methods no scenario calls after a close (add the type to a scenario): " + missing);
    }

    /** The concrete public types of dev.kvmctl.state, read from the compiled package. */
    private static List<Class<?>> stateTypes() throws IOException, URISyntaxException {
        URI location = Regs.class.getProtectionDomain().getCodeSource().getLocation().toURI();
        Path root = Paths.get(location);
        FileSystem jar = Files.isDirectory(root) ? null : FileSystems.newFileSystem(root);
        try {
            Path dir = (jar == null ? root : jar.getPath("/")).resolve("dev/kvmctl/state");
            List<Class<?>> types = new ArrayList<>();
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.sorted(Comparator.comparing(Path::toString)).collect(Collectors.toList())) {
                    String name = f.getFileName().toString();
                    if (name.endsWith(".class")) {
                        Class<?> type = load("dev.kvmctl.state." + name.substring(0, name.length() - 6));
                        if (Modifier.isPublic(type.getModifiers()) && !Modifier.isAbstract(type.getModifiers())) {
                            types.add(type);
                        }
                    }
                }
            }
            return types;
        } finally {
            if (jar != null) {
                jar.close();
            }
        }
    }

    private static Class<?> load(String name) {
        try {
            return Class.forName(name);
        } catch (ClassNotFoundException e) {
            throw new AssertionError(e);
        }
    }

    private record Target(String label, Class<?> type, String expectation) {}

    /** A finished (or killed) child JVM. */
    private record Child(int status, String output, boolean timedOut) {
        static Child run(String scenario) throws IOException, InterruptedException {
            Path work = Files.createTempDirectory("kvmctl-use-after-close");
            try {
                List<String> cmd = new ArrayList<>();
                cmd.add(Paths.get(System.getProperty("java.home"), "bin", "java").toString());
                if (Runtime.version().feature() >= 22) {
                    cmd.add("--enable-native-access=ALL-UNNAMED");
                }
                cmd.add("-Djava.io.tmpdir=" + work);
                cmd.add("-XX:ErrorFile=" + work + "/hs_err_%p.log");
                cmd.add("-Xmx256m");
                cmd.add("-cp");
                cmd.add(System.getProperty("java.class.path"));
                cmd.add(UseAfterCloseProbe.class.getName());
                cmd.add(scenario);
                Path log = work.resolve("output.txt");
                Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
                boolean finished = p.waitFor(LIMIT_SECONDS, TimeUnit.SECONDS);
                if (!finished) {
                    p.destroyForcibly().waitFor();
                }
                StringBuilder output = new StringBuilder(Files.readString(log));
                try (Stream<Path> files = Files.list(work)) {
                    for (Path f : files.filter(f -> f.getFileName().toString().startsWith("hs_err")).collect(Collectors.toList())) {
                        output.append("--- ").append(f.getFileName()).append(" (first lines) ---\n");
                        Files.readAllLines(f).stream().limit(30).forEach(l -> output.append(l).append('\n'));
                    }
                }
                return new Child(finished ? p.exitValue() : -1, output.toString(), !finished);
            } finally {
                try (Stream<Path> files = Files.walk(work)) {
                    for (Path f : files.sorted(Comparator.reverseOrder()).collect(Collectors.toList())) {
                        Files.deleteIfExists(f);
                    }
                }
            }
        }

        String tail() {
            String[] lines = output.split("\n");
            return Stream.of(lines).skip(Math.max(0, lines.length - 60)).collect(Collectors.joining("\n"));
        }
    }
}
