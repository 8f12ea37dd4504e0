package dev.kvmctl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.util.Objects;

/**
 * Decides whether tests that need something this machine may lack run: /dev/kvm, a tool such as
 * {@code mvn} or {@code mkfifo}, a property the build sets. Without it they are skipped with a
 * visible reason, unless KVMCTL_REQUIRE_KVM=1 (set by CI, where everything must be there): then a
 * missing requirement fails the test with the same reason instead of silently skipping it.
 */
public final class KvmAvailable {
    /** The variable CI sets; with it nothing may be skipped. */
    public static final String REQUIRE = "KVMCTL_REQUIRE_KVM";

    private KvmAvailable() {}

    public static void assumeKvm() {
        boolean present = Files.isReadable(Kvm.DEFAULT_DEVICE) && Files.isWritable(Kvm.DEFAULT_DEVICE);
        require(present, Kvm.DEFAULT_DEVICE + " is missing or not accessible on this machine");
    }

    /**
     * The one rule for every requirement: when {@code met} is false the test is skipped with
     * {@code what} as its reason, or, when KVMCTL_REQUIRE_KVM=1, fails with it.
     */
    public static void require(boolean met, String what) {
        if (!met && Objects.equals(System.getenv(REQUIRE), "1")) {
            throw new AssertionError(REQUIRE + "=1, so this test may not be skipped, but " + what);
        }
        assumeTrue(met, "skipped: " + what);
    }
}
