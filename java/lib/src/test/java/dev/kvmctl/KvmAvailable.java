package dev.kvmctl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.util.Objects;

/**
 * Decides whether tests that need a real /dev/kvm run. Without one they are skipped with a visible
 * reason, unless KVMCTL_REQUIRE_KVM=1 (set by CI on machines that have KVM), where a missing device
 * fails the run instead of silently skipping it.
 */
public final class KvmAvailable {
    private KvmAvailable() {}

    public static void assumeKvm() {
        boolean present = Files.isReadable(Kvm.DEFAULT_DEVICE) && Files.isWritable(Kvm.DEFAULT_DEVICE);
        if (!present && Objects.equals(System.getenv("KVMCTL_REQUIRE_KVM"), "1")) {
            throw new AssertionError("KVMCTL_REQUIRE_KVM=1 but " + Kvm.DEFAULT_DEVICE + " is not usable");
        }
        assumeTrue(present, "skipped: " + Kvm.DEFAULT_DEVICE + " is missing or not accessible on this machine");
    }
}
