package dev.kvmctl.container;

import com.github.dockerjava.api.exception.NotFoundException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.Objects;
import org.testcontainers.DockerClientFactory;

/**
 * Decides whether the container tests run, and fails or skips them with a visible reason.
 *
 * <ul>
 *   <li>No Docker daemon reachable: skipped, unless {@code KVMCTL_REQUIRE_DOCKER=1} (set by
 *       {@code .ci/run}), where it is a failure.
 *   <li>No {@code /dev/kvm} on the host: skipped, unless {@code KVMCTL_REQUIRE_KVM=1}.
 *   <li>Docker is up but the base image is missing: always a failure naming the command that builds
 *       it ({@code .ci/image.sh}); nothing is ever pulled, no registry is assumed reachable.
 * </ul>
 *
 * <p>Skip reasons are printed to stderr as well as given to JUnit, because {@code make test} runs
 * Maven with {@code -q}, which hides the test summary.
 */
final class ContainerEnvironment {
    /** The local image the tests run in; {@code .ci/image.sh} builds it under the same name. */
    static final String IMAGE = firstNonBlank(System.getenv("KVMCTL_CONTAINER_IMAGE"),
            System.getProperty("kvmctl.container.image"), "kvmctl-ci/debian-jre:bookworm");

    static final Path KVM = Paths.get("/dev/kvm");

    private ContainerEnvironment() {}

    /**
     * Returns why the container tests cannot run here (the caller skips them with it), or null when
     * Docker, /dev/kvm and the image are there. Throws instead of returning a reason where a
     * requirement variable is set, and when Docker is up but the image is missing.
     */
    static String unavailableReason() {
        boolean requireDocker = Objects.equals(System.getenv("KVMCTL_REQUIRE_DOCKER"), "1");
        boolean requireKvm = Objects.equals(System.getenv("KVMCTL_REQUIRE_KVM"), "1");

        if (!Files.exists(KVM)) {
            return unavailable(requireKvm, "KVMCTL_REQUIRE_KVM", KVM + " does not exist on this host");
        }
        boolean docker;
        String why = "";
        try {
            docker = DockerClientFactory.instance().isDockerAvailable();
        } catch (RuntimeException | LinkageError e) {
            docker = false;
            why = ": " + e;
        }
        if (!docker) {
            return unavailable(requireDocker, "KVMCTL_REQUIRE_DOCKER", "no Docker daemon is reachable" + why
                    + " (start dockerd and run .ci/image.sh; see docs/ci.md)");
        }
        try {
            DockerClientFactory.instance().client().inspectImageCmd(IMAGE).exec();
        } catch (NotFoundException e) {
            throw new AssertionError("Docker is up but the image " + IMAGE + " is missing; build it with .ci/image.sh "
                    + "(nothing is pulled: no registry is assumed reachable)", e);
        }
        return null;
    }

    static Path jar() {
        String property = System.getProperty("kvmctl.jar");
        if (property == null) {
            throw new AssertionError("system property kvmctl.jar is not set (failsafe sets it; run through Maven)");
        }
        Path jar = Paths.get(property);
        if (!Files.isRegularFile(jar)) {
            throw new AssertionError(jar + " does not exist: the container tests run after 'package'");
        }
        return jar;
    }

    private static String unavailable(boolean required, String variable, String reason) {
        if (required) {
            throw new AssertionError(variable + "=1 but " + reason);
        }
        String message = "skipped: container tests (" + IMAGE + "): " + reason;
        System.err.println("[kvmctl] " + message);
        return message;
    }

    private static String firstNonBlank(String... values) {
        for (String v : values) {
            if (v != null && !v.isBlank()) {
                return v;
            }
        }
        throw new IllegalArgumentException("no value");
    }
}
