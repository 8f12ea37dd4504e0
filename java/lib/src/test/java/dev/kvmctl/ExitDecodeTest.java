package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.internal.bridge.Layout;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Every exit reason {@code linux/kvm.h} defines (KVM_EXIT_UNKNOWN 0 to KVM_EXIT_NOTIFY 37) decodes
 * into its own type, the same object each time; one newer than the headers into {@link VmExit.Unknown}.
 * Most of them cannot be provoked on this kernel, so the decoder is called with each number.
 */
class ExitDecodeTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    private static final Map<String, VmExit.Kind> X86 = new LinkedHashMap<>();

    static {
        X86.put("UNKNOWN", VmExit.Kind.UNKNOWN);
        X86.put("EXCEPTION", VmExit.Kind.EXCEPTION);
        X86.put("HYPERCALL", VmExit.Kind.HYPERCALL);
        X86.put("DEBUG", VmExit.Kind.DEBUG);
        X86.put("HLT", VmExit.Kind.HLT);
        X86.put("IRQ_WINDOW_OPEN", VmExit.Kind.IRQ_WINDOW_OPEN);
        X86.put("SHUTDOWN", VmExit.Kind.SHUTDOWN);
        X86.put("FAIL_ENTRY", VmExit.Kind.FAIL_ENTRY);
        X86.put("INTR", VmExit.Kind.INTERRUPTED);
        X86.put("SET_TPR", VmExit.Kind.SET_TPR);
        X86.put("TPR_ACCESS", VmExit.Kind.TPR_ACCESS);
        X86.put("NMI", VmExit.Kind.NMI);
        X86.put("INTERNAL_ERROR", VmExit.Kind.INTERNAL_ERROR);
        X86.put("SYSTEM_EVENT", VmExit.Kind.SYSTEM_EVENT);
        X86.put("IOAPIC_EOI", VmExit.Kind.IOAPIC_EOI);
        X86.put("HYPERV", VmExit.Kind.HYPERV);
        X86.put("X86_RDMSR", VmExit.Kind.MSR_READ);
        X86.put("X86_WRMSR", VmExit.Kind.MSR_WRITE);
        X86.put("DIRTY_RING_FULL", VmExit.Kind.DIRTY_RING_FULL);
        X86.put("AP_RESET_HOLD", VmExit.Kind.AP_RESET_HOLD);
        X86.put("X86_BUS_LOCK", VmExit.Kind.BUS_LOCK);
        X86.put("XEN", VmExit.Kind.XEN);
        X86.put("NOTIFY", VmExit.Kind.NOTIFY);
    }

    private static final String[] OTHER = {"S390_SIEIC", "S390_RESET", "DCR", "OSI", "PAPR_HCALL", "S390_UCONTROL",
        "WATCHDOG", "S390_TSCH", "EPR", "S390_STSI", "ARM_NISV", "RISCV_SBI", "RISCV_CSR"};

    @Test
    void everyReasonOfTheHeadersHasItsType() {
        try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
            Vcpu vcpu = vm.createVcpu(0);
            Set<Integer> seen = new HashSet<>();
            for (Map.Entry<String, VmExit.Kind> e : X86.entrySet()) {
                int reason = Layout.intValue("KVM_EXIT_" + e.getKey());
                VmExit exit = vcpu.decode(reason);
                assertEquals(e.getValue(), exit.kind(), e.getKey());
                assertEquals(reason, exit.reason(), e.getKey());
                assertSame(exit, vcpu.decode(reason), "reused, not allocated: " + e.getKey());
                seen.add(reason);
            }
            // IO and MMIO pick their direction from the page: either way the reason is theirs.
            assertEquals(Layout.intValue("KVM_EXIT_IO"), vcpu.decode(Layout.intValue("KVM_EXIT_IO")).reason());
            assertEquals(Layout.intValue("KVM_EXIT_MMIO"), vcpu.decode(Layout.intValue("KVM_EXIT_MMIO")).reason());
            seen.add(Layout.intValue("KVM_EXIT_IO"));
            seen.add(Layout.intValue("KVM_EXIT_MMIO"));
            for (String name : OTHER) {
                int reason = Layout.intValue("KVM_EXIT_" + name);
                VmExit exit = vcpu.decode(reason);
                assertEquals(VmExit.Kind.OTHER_ARCHITECTURE, exit.kind(), name);
                assertEquals(reason, exit.reason());
                assertTrue(exit.toString().contains("KVM_EXIT_" + name), exit.toString());
                seen.add(reason);
            }
            for (int reason = 0; reason <= Layout.intValue("KVM_EXIT_NOTIFY"); reason++) {
                assertTrue(seen.contains(reason), "KVM_EXIT " + reason + " of the headers is covered here");
            }
            VmExit newer = vcpu.decode(1000);
            assertEquals(VmExit.Kind.UNKNOWN, newer.kind());
            assertEquals(1000, newer.reason());
            byte[] raw = new byte[300];
            raw[299] = 7;
            ((VmExit.Unknown) newer).data(raw); // the 256-byte union, whatever the reason
            java.nio.ByteBuffer page = vcpu.runPage();
            for (int i = 0; i < RunPage.EXIT_UNION_SIZE; i++) {
                assertEquals(page.get(RunPage.EXIT_UNION + i), raw[i], "byte " + i + " of the exit data");
            }
            assertEquals(7, raw[299], "nothing written past the union's 256 bytes");
        }
    }
}
