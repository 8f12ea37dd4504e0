package dev.kvmctl;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;

/**
 * The KVM implementation behind {@code /dev/kvm}, as far as the host lets kvmctl see it.
 *
 * <pre>{@code
 * if (kvm.backend().emulatesRing0()) {
 *     // keep ring-0 and real-mode guest code short: KVM emulates it instruction by instruction
 * }
 * }</pre>
 */
public enum Backend {
    /** Intel VT-x: every guest mode runs natively. */
    INTEL_VMX(false),
    /** AMD-V: every guest mode runs natively. */
    AMD_SVM(false),
    /** KVM's PVM backend (no hardware virtualization): ring 3 runs natively, ring 0 and real mode are emulated. */
    PVM(true),
    /** None of the known modules is visible (for example inside a container without /sys/module). */
    UNKNOWN(false);

    private final boolean emulatesRing0;

    Backend(boolean emulatesRing0) {
        this.emulatesRing0 = emulatesRing0;
    }

    /**
     * {@return whether ring-0 and real-mode guest code runs through KVM's instruction emulator (about
     * a million instructions a second, without SSE/AVX or {@code int3}) rather than natively}
     */
    public boolean emulatesRing0() {
        return emulatesRing0;
    }

    static Backend detect() {
        Path modules = Paths.get("/sys/module");
        if (Files.isDirectory(modules.resolve("kvm_pvm"))) {
            return PVM;
        }
        if (Files.isDirectory(modules.resolve("kvm_intel"))) {
            return INTEL_VMX;
        }
        if (Files.isDirectory(modules.resolve("kvm_amd"))) {
            return AMD_SVM;
        }
        return UNKNOWN;
    }
}
