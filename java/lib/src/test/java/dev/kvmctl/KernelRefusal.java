package dev.kvmctl;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.function.Supplier;

/**
 * For ports of kvm-ioctls' tests: where this kernel (KVM's PVM backend here) refuses an ioctl with
 * an errno the test names, the test is skipped with the ioctl and the errno as its reason, never
 * passed. Any other errno fails the test as usual.
 */
final class KernelRefusal {
    private KernelRefusal() {}

    /** {@code call}'s result; a skip naming {@code ioctl} and the errno when it fails with one of {@code errnos}. */
    static <T> T orSkip(String ioctl, Supplier<T> call, int... errnos) {
        try {
            return call.get();
        } catch (KvmException e) {
            for (int errno : errnos) {
                if (e.errno() == errno) {
                    assumeTrue(false, ioctl + " refused by this kernel: " + e.errnoName() + " (" + e.getMessage() + ")");
                }
            }
            throw e;
        }
    }

    /** As {@link #orSkip(String, Supplier, int...)} for a call without a result. */
    static void orSkip(String ioctl, Runnable call, int... errnos) {
        orSkip(ioctl, () -> {
            call.run();
            return null;
        }, errnos);
    }

    /** Skips, naming the capability, when this kernel answers 0 for it. */
    static void requireCap(Kvm kvm, String name, int number) {
        assumeTrue(kvm.checkExtension(number) > 0, name + " is 0 on this kernel (KVM_CHECK_EXTENSION)");
    }
}
