package dev.kvmctl;

import dev.kvmctl.internal.bridge.Layout;

/**
 * KVM capabilities that kvmctl knows, as tested with {@code KVM_CHECK_EXTENSION}
 * ({@link Kvm#checkExtension(Capability)}, {@link Vm#checkExtension(Capability)}); any other
 * {@code KVM_CAP_*} number goes to {@link Kvm#checkExtension(int)} and {@link Vm#enableCap(int, long, long)}. The numbers come from the kernel
 * headers the native library was built against. Each constant says what a positive answer means;
 * where the answer is a number rather than 1, it says what the number is.
 *
 * <pre>{@code
 * if (kvm.has(Capability.IRQFD)) { ... }
 * int slots = kvm.checkExtension(Capability.NR_MEMSLOTS);
 * }</pre>
 */
public enum Capability {
    /** In-kernel PIC, IOAPIC and local APICs ({@code KVM_CREATE_IRQCHIP}, {@link Vm#createIrqchip()}). */
    IRQCHIP,
    /** A guest {@code hlt} can return to user space, as {@link VmExit.Hlt}. */
    HLT,
    /** Guest memory from user-space mappings ({@code KVM_SET_USER_MEMORY_REGION}, {@link Vm#mapMemory}). */
    USER_MEMORY,
    /** {@code KVM_SET_TSS_ADDR} ({@link Vm#setTssAddress}). */
    SET_TSS_ADDR,
    /**
     * {@code KVM_GET_SUPPORTED_CPUID} and {@code KVM_SET_CPUID2} ({@link Kvm#supportedCpuid()},
     * {@link Vcpu#setCpuid}).
     */
    EXT_CPUID,
    /** Answers the recommended most vCPUs per VM ({@link Kvm#recommendedVcpus()}). */
    NR_VCPUS,
    /** Answers the most memory slots per VM ({@link Kvm#memslots()}). */
    NR_MEMSLOTS,
    /**
     * The in-kernel PIT: {@code KVM_CREATE_PIT2}, {@code KVM_GET_PIT2}, {@code KVM_SET_PIT2}
     * ({@link Vm#createPit()}).
     */
    PIT2,
    /** {@code KVM_GET_MP_STATE} and {@code KVM_SET_MP_STATE} ({@link Vcpu#getMpState}). */
    MP_STATE,
    /**
     * KVM follows changes to the host mappings behind memory slots, so their pages can be discarded
     * or remapped under a running guest.
     */
    SYNC_MMU,
    /**
     * {@code KVM_IOEVENTFD}: guest writes that signal an eventfd without an exit
     * ({@link Vm#registerIoEvent}).
     */
    IOEVENTFD,
    /** {@code KVM_IRQFD}: an eventfd that raises an interrupt ({@link Vm#registerIrqFd}). */
    IRQFD,
    /**
     * {@code KVM_GET_CLOCK} and {@code KVM_SET_CLOCK} ({@link Vm#getClock}); answers the clock flags
     * the kernel supports.
     */
    ADJUST_CLOCK,
    /** {@code KVM_GET_VCPU_EVENTS} and {@code KVM_SET_VCPU_EVENTS} ({@link Vcpu#getVcpuEvents}). */
    VCPU_EVENTS,
    /** {@code KVM_GET_DEBUGREGS} and {@code KVM_SET_DEBUGREGS} ({@link Vcpu#getDebugRegs}). */
    DEBUGREGS,
    /** {@code KVM_GET_XSAVE} and {@code KVM_SET_XSAVE} ({@link Vcpu#getXsave}). */
    XSAVE,
    /** {@code KVM_GET_XCRS} and {@code KVM_SET_XCRS} ({@link Vcpu#getXcrs}). */
    XCRS,
    /** {@code KVM_GET_TSC_KHZ} ({@link Vcpu#tscKhz()}). */
    GET_TSC_KHZ,
    /**
     * {@code KVM_SET_TSC_KHZ} can give a guest a TSC frequency other than the host's
     * ({@link Vcpu#setTscKhz}).
     */
    TSC_CONTROL,
    /** {@code KVM_SET_GUEST_DEBUG}: single-stepping and breakpoints ({@link Vcpu#setGuestDebug}). */
    SET_GUEST_DEBUG,
    /** {@code KVM_SET_IDENTITY_MAP_ADDR} ({@link Vm#setIdentityMapAddress}). */
    SET_IDENTITY_MAP_ADDR,
    /** Answers the most vCPUs a VM may have ({@link Kvm#maxVcpus()}). */
    MAX_VCPUS,
    /** Answers the bound on vCPU ids: {@link Vm#createVcpu} takes ids below it. */
    MAX_VCPU_ID,
    /** Read-only memory slots ({@link MemorySlot#READONLY}): guest writes exit as MMIO. */
    READONLY_MEM,
    /** The {@code immediate_exit} field of {@code kvm_run}, which {@link Vcpu#kick()} relies on. */
    IMMEDIATE_EXIT,
    /**
     * In-kernel local APICs with the PIC and IOAPIC left to user space, enabled with
     * {@code KVM_ENABLE_CAP}.
     */
    SPLIT_IRQCHIP,
    /** {@code KVM_GET_XSAVE2}; answers the size of the XSAVE area in bytes ({@link Kvm#xsaveSize()}). */
    XSAVE2,
    /** {@code KVM_GET_MSR_FEATURE_INDEX_LIST} ({@link Kvm#msrFeatureIndexList()}). */
    GET_MSR_FEATURES,
    /** The local APIC's TSC-deadline timer mode can be offered to guests in CPUID. */
    TSC_DEADLINE_TIMER,
    /** {@code KVM_SET_GSI_ROUTING}: a table from GSIs to irqchip pins or MSIs. */
    IRQ_ROUTING,
    /** Internal-error exits carry extra data words ({@link VmExit.InternalError#data()}). */
    INTERNAL_ERROR_DATA,
    /**
     * Exception payloads (CR2 of a page fault, DR6 of a debug exception) reported apart in the vCPU
     * events, enabled with {@code KVM_ENABLE_CAP}.
     */
    EXCEPTION_PAYLOAD,
    /** {@code KVM_KVMCLOCK_CTRL}: tells a guest it was paused, so its soft-lockup watchdog does not fire. */
    KVMCLOCK_CTRL,
    /** Single-stepping also steps correctly over instructions KVM emulates. */
    X86_ROBUST_SINGLESTEP,
    /**
     * {@code KVM_GET_DIRTY_LOG} leaves pages write-protected until {@code KVM_CLEAR_DIRTY_LOG},
     * enabled with {@code KVM_ENABLE_CAP}.
     */
    MANUAL_DIRTY_LOG_PROTECT2,
    /**
     * Per-vCPU rings of dirty pages instead of bitmaps ({@link Vm#enableDirtyRing(int)},
     * {@link Vcpu#dirtyRing()}); answers the largest ring size in bytes.
     */
    DIRTY_LOG_RING,
    /**
     * MMIO writes batched in a ring instead of one exit each ({@link Vm#registerCoalescedIo},
     * {@link Vcpu#nextCoalescedIo}); answers the ring's page offset in the vCPU mapping.
     */
    COALESCED_MMIO,
    /**
     * Registers kept in the {@code kvm_run} page ({@code sync_regs}, {@link Vcpu#syncValidRegs(int)},
     * {@link Vcpu#readSyncedRegs}), saving get and set calls around each run; answers the register
     * sets supported.
     */
    SYNC_REGS;

    private final int number;

    Capability() {
        this.number = Layout.intValue(kernelName());
    }

    /** {@return the kernel's name for it, e.g. {@code KVM_CAP_IRQFD}} */
    public String kernelName() {
        return "KVM_CAP_" + name();
    }

    /**
     * {@return the number passed to {@code KVM_CHECK_EXTENSION}, from the kernel headers kvmctl was
     * built with}
     */
    public int number() {
        return number;
    }
}
