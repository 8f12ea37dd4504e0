package dev.kvmctl;

import dev.kvmctl.internal.bridge.Layout;

/**
 * KVM capabilities that kvmctl knows, as tested with {@code KVM_CHECK_EXTENSION}. The numbers come
 * from the kernel headers the native library was built against.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open()) {
 *     if (kvm.has(Capability.IRQFD)) { ... }
 *     int slots = kvm.checkExtension(Capability.NR_MEMSLOTS);
 * }
 * }</pre>
 */
public enum Capability {
    IRQCHIP, HLT, USER_MEMORY, SET_TSS_ADDR, EXT_CPUID, NR_VCPUS, NR_MEMSLOTS, PIT2, MP_STATE,
    SYNC_MMU, IOEVENTFD, IRQFD, ADJUST_CLOCK, VCPU_EVENTS, DEBUGREGS, XSAVE, XCRS, GET_TSC_KHZ,
    TSC_CONTROL, SET_GUEST_DEBUG, SET_IDENTITY_MAP_ADDR, MAX_VCPUS, MAX_VCPU_ID, READONLY_MEM,
    IMMEDIATE_EXIT, SPLIT_IRQCHIP, XSAVE2, GET_MSR_FEATURES, TSC_DEADLINE_TIMER, IRQ_ROUTING,
    INTERNAL_ERROR_DATA, EXCEPTION_PAYLOAD, KVMCLOCK_CTRL, X86_ROBUST_SINGLESTEP,
    MANUAL_DIRTY_LOG_PROTECT2, DIRTY_LOG_RING, COALESCED_MMIO, SYNC_REGS;

    private final int number;

    Capability() {
        this.number = Layout.intValue(kernelName());
    }

    /** The kernel's name for it, e.g. {@code KVM_CAP_IRQFD}. */
    public String kernelName() {
        return "KVM_CAP_" + name();
    }

    /** The number passed to {@code KVM_CHECK_EXTENSION}. */
    public int number() {
        return number;
    }
}
