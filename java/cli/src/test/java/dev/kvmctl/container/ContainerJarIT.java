package dev.kvmctl.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.github.dockerjava.api.model.Device;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.testcontainers.containers.Container.ExecResult;
import org.testcontainers.containers.ExecConfig;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.utility.DockerImageName;
import org.testcontainers.utility.MountableFile;

/**
 * Runs the built {@code target/kvmctl.jar} in a clean Debian container that has nothing but a
 * headless JRE 17 and {@code --device /dev/kvm}: no Maven repository, no compiler, no build tree.
 * If the jar runs guests there, it carries everything it needs (its JNI library, JNR's jffi stub,
 * the guest images). One container serves the whole class; each test execs into it.
 *
 * <p>The image is built locally by {@code .ci/image.sh} (debootstrap + {@code docker import});
 * nothing is pulled. See {@link ContainerEnvironment} for when these tests skip or fail.
 */
@Timeout(value = 5, unit = TimeUnit.MINUTES, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ContainerJarIT {
    private static final String JAR = "/kvmctl.jar";
    private static final String USER = "kvmuser";

    private static GenericContainer<?> container;
    /** Why these tests are skipped here (each one reports it), or null. */
    private static String skipped;

    @BeforeAll
    static void startContainer() {
        skipped = ContainerEnvironment.unavailableReason();
        if (skipped != null) {
            return;
        }
        long start = System.nanoTime();
        container = new GenericContainer<>(DockerImageName.parse(ContainerEnvironment.IMAGE))
                .withImagePullPolicy(image -> false) // local image only: there is no registry to pull from
                .withCommand("sleep", "infinity")
                .withCreateContainerCmdModifier(cmd -> cmd.getHostConfig()
                        .withDevices(new Device("rwm", "/dev/kvm", ContainerEnvironment.KVM.toString())))
                .withCopyFileToContainer(MountableFile.forHostPath(ContainerEnvironment.jar()), JAR)
                .withStartupTimeout(Duration.ofMinutes(1));
        container.start();
        System.err.printf("[kvmctl] container %s from %s started in %.1f s%n",
                container.getContainerId().substring(0, 12), ContainerEnvironment.IMAGE, (System.nanoTime() - start) / 1e9);
    }

    @BeforeEach
    void skipWithoutDocker() {
        assumeTrue(skipped == null, skipped);
    }

    @AfterAll
    static void stopContainer() {
        if (container != null) {
            container.stop();
        }
    }

    @Test
    void theContainerHasOnlyAJre() throws Exception {
        ExecResult r = exec("sh", "-c", "command -v java; command -v gcc cc mvn || true; ls /root/.m2 2>&1 || true");
        assertEquals(0, r.getExitCode(), describe(r));
        assertTrue(r.getStdout().startsWith("/usr/bin/java"), describe(r));
        assertFalse(r.getStdout().contains("gcc") || r.getStdout().contains("mvn"), "a compiler or Maven in the image: " + describe(r));
        assertTrue(r.getStdout().contains("No such file"), "a Maven repository in the image: " + describe(r));
    }

    @Test
    void info() throws Exception {
        ExecResult r = kvmctl("info");
        assertEquals(0, r.getExitCode(), describe(r));
        assertTrue(r.getStdout().contains("KVM API version  12"), describe(r));
        assertTrue(r.getStdout().contains("KVM_CAP_USER_MEMORY                yes"), describe(r));
    }

    @Test
    void theNativeLibraryNeedsNothingTheJreDoesNotBring() throws Exception {
        assertEquals(0, kvmctl("info").getExitCode());
        // JavaCPP extracted libjniShim.so from the jar; every library it links must resolve here.
        ExecResult r = exec("sh", "-c", "f=$(find /root/.javacpp/cache -name libjniShim.so) && test -n \"$f\" && ldd \"$f\"");
        assertEquals(0, r.getExitCode(), describe(r));
        assertFalse(r.getStdout().contains("not found"), describe(r));
        assertTrue(r.getStdout().contains("libc.so.6"), describe(r));
    }

    @Test
    void images() throws Exception {
        ExecResult r = kvmctl("images");
        assertEquals(0, r.getExitCode(), describe(r));
        for (String image : List.of("hello-real.bin", "hello-long.elf", "sse-compute.elf", "fault.elf",
                "producer.elf", "consumer.elf")) {
            assertTrue(r.getStdout().contains(image), image + " is not in the jar: " + describe(r));
        }
    }

    @Test
    void helloReal() throws Exception {
        ExecResult r = kvmctl("launch", "--image", "hello-real", "--timeout", "60s");
        assertEquals(0, r.getExitCode(), describe(r));
        assertTrue(r.getStdout().contains("Hello from real mode"), describe(r));
    }

    @Test
    void helloLongJson() throws Exception {
        ExecResult r = kvmctl("launch", "--image", "hello-long", "--json", "--timeout", "60s");
        assertEquals(0, r.getExitCode(), describe(r));
        assertTrue(r.getStdout().contains("Hello from long mode, ring 3"), describe(r));
        JsonObject report = lastLineJson(r);
        assertEquals("hello-long", report.get("name").getAsString(), describe(r));
        assertEquals("exited", report.get("outcome").getAsString(), describe(r));
        assertEquals(0, report.get("status").getAsInt(), describe(r));
    }

    @Test
    void sseCompute() throws Exception {
        ExecResult r = kvmctl("launch", "--image", "sse-compute", "--timeout", "60s");
        assertEquals(0, r.getExitCode(), describe(r));
        assertTrue(r.getStdout().contains("sse-compute: iterations=1000"), describe(r));
        assertTrue(r.getStdout().contains("sse-compute: checksum=0xbb5642981824dbe8\n"), describe(r));
    }

    @Test
    void faultExits125WithARegisterDump() throws Exception {
        ExecResult r = kvmctl("launch", "--image", "fault", "--timeout", "60s");
        assertEquals(125, r.getExitCode(), describe(r));
        assertTrue(r.getStdout().contains("about to fault"), describe(r));
        assertTrue(r.getStderr().contains("cr2"), "no register dump on stderr: " + describe(r));
    }

    @Test
    void sharedMemoryDemo() throws Exception {
        ExecResult r = kvmctl("launch", "--messages", "200", "--json", "--timeout", "120s");
        assertEquals(0, r.getExitCode(), describe(r));
        JsonObject report = lastLineJson(r);
        assertTrue(report.get("ok").getAsBoolean(), describe(r));
        assertEquals(200, report.get("messages").getAsLong(), describe(r));
        assertEquals(0, report.get("errors").getAsLong(), describe(r));
        assertEquals(0, report.get("blocks_in_use_at_end").getAsLong(), describe(r));
    }

    /** A non-root user with its own home: JavaCPP's cache (~/.javacpp) and jffi's temp files must work there too. */
    @Test
    void runsAsANonRootUser() throws Exception {
        // Inside the container only: the device node Docker made is root's 0600 copy of the host's.
        ExecResult setup = exec("sh", "-c", "id " + USER + " >/dev/null 2>&1 || useradd -m " + USER + "; chmod 0666 /dev/kvm");
        assertEquals(0, setup.getExitCode(), describe(setup));
        ExecResult r = execAs(USER, "java", "-jar", JAR, "launch", "--image", "hello-long", "--timeout", "60s");
        assertEquals(0, r.getExitCode(), describe(r));
        assertTrue(r.getStdout().contains("Hello from long mode, ring 3"), describe(r));
        ExecResult cache = exec("sh", "-c", "find /home/" + USER + "/.javacpp/cache -name libjniShim.so | grep -q .");
        assertEquals(0, cache.getExitCode(), "JavaCPP did not use the user's ~/.javacpp/cache: " + describe(cache));
    }

    private static ExecResult kvmctl(String... args) throws Exception {
        String[] command = new String[args.length + 3];
        command[0] = "java";
        command[1] = "-jar";
        command[2] = JAR;
        System.arraycopy(args, 0, command, 3, args.length);
        return exec(command);
    }

    private static ExecResult exec(String... command) throws Exception {
        return execAs("root", command);
    }

    private static ExecResult execAs(String user, String... command) throws Exception {
        long start = System.nanoTime();
        ExecResult r = container.execInContainer(ExecConfig.builder().user(user).command(command).build());
        System.err.printf("[kvmctl] container (%s): %s -> exit %d in %.1f s%n",
                user, String.join(" ", command), r.getExitCode(), (System.nanoTime() - start) / 1e9);
        return r;
    }

    private static JsonObject lastLineJson(ExecResult r) {
        String[] lines = r.getStdout().strip().split("\\R");
        return JsonParser.parseString(lines[lines.length - 1]).getAsJsonObject();
    }

    private static String describe(ExecResult r) {
        return "exit " + r.getExitCode() + "\n--- stdout\n" + r.getStdout() + "--- stderr\n" + r.getStderr();
    }
}
