package dev.kvmctl.state;

import dev.kvmctl.Capability;
import dev.kvmctl.internal.bridge.Layout;

/**
 * Pending and injected exceptions, interrupts, NMIs and SMIs ({@code struct kvm_vcpu_events}),
 * every field readable and settable. KVM_SET_VCPU_EVENTS applies the exception, interrupt and NMI
 * injection state always, the rest only where {@link #flags()} marks it valid; a struct filled by
 * {@link dev.kvmctl.Vcpu#getVcpuEvents(VcpuEvents)} has the flags KVM reports.
 *
 * <pre>{@code
 * VcpuEvents ev = vcpu.getVcpuEvents(new VcpuEvents());
 * vcpu.setVcpuEvents(ev.nmiPending(true).flags(ev.flags() | VcpuEvents.VALID_NMI_PENDING));
 * }</pre>
 */
public final class VcpuEvents extends KvmStruct {
    /** {@link #flags()} bit: apply {@link #nmiPending()}. */
    public static final int VALID_NMI_PENDING = Layout.intValue("KVM_VCPUEVENT_VALID_NMI_PENDING");
    /** {@link #flags()} bit: apply {@link #sipiVector()}. */
    public static final int VALID_SIPI_VECTOR = Layout.intValue("KVM_VCPUEVENT_VALID_SIPI_VECTOR");
    /** {@link #flags()} bit: apply {@link #interruptShadow()}. */
    public static final int VALID_SHADOW = Layout.intValue("KVM_VCPUEVENT_VALID_SHADOW");
    /** {@link #flags()} bit: apply the SMM fields ({@link #smm()} and the rest). */
    public static final int VALID_SMM = Layout.intValue("KVM_VCPUEVENT_VALID_SMM");
    /** {@link #flags()} bit: {@link #exceptionPending()} and the payload are meaningful (set by KVM when {@code KVM_CAP_EXCEPTION_PAYLOAD} is enabled). */
    public static final int VALID_PAYLOAD = Layout.intValue("KVM_VCPUEVENT_VALID_PAYLOAD");
    /** {@link #flags()} bit: apply {@link #tripleFaultPending()}. */
    public static final int VALID_TRIPLE_FAULT = Layout.intValue("KVM_VCPUEVENT_VALID_TRIPLE_FAULT");
    /** {@link #interruptShadow()} bit: blocked by a MOV SS or POP SS. */
    public static final int SHADOW_MOV_SS = Layout.intValue("KVM_X86_SHADOW_INT_MOV_SS");
    /** {@link #interruptShadow()} bit: blocked by an STI. */
    public static final int SHADOW_STI = Layout.intValue("KVM_X86_SHADOW_INT_STI");

    private static final int EXCEPTION_INJECTED = Layout.offsetOf("kvm_vcpu_events", "exception.injected");
    private static final int EXCEPTION_VECTOR = Layout.offsetOf("kvm_vcpu_events", "exception.nr");
    private static final int EXCEPTION_HAS_ERROR_CODE = Layout.offsetOf("kvm_vcpu_events", "exception.has_error_code");
    private static final int EXCEPTION_PENDING = Layout.offsetOf("kvm_vcpu_events", "exception.pending");
    private static final int EXCEPTION_ERROR_CODE = Layout.offsetOf("kvm_vcpu_events", "exception.error_code");
    private static final int INTERRUPT_INJECTED = Layout.offsetOf("kvm_vcpu_events", "interrupt.injected");
    private static final int INTERRUPT_VECTOR = Layout.offsetOf("kvm_vcpu_events", "interrupt.nr");
    private static final int INTERRUPT_SOFT = Layout.offsetOf("kvm_vcpu_events", "interrupt.soft");
    private static final int INTERRUPT_SHADOW = Layout.offsetOf("kvm_vcpu_events", "interrupt.shadow");
    private static final int NMI_INJECTED = Layout.offsetOf("kvm_vcpu_events", "nmi.injected");
    private static final int NMI_PENDING = Layout.offsetOf("kvm_vcpu_events", "nmi.pending");
    private static final int NMI_MASKED = Layout.offsetOf("kvm_vcpu_events", "nmi.masked");
    private static final int SIPI_VECTOR = Layout.offsetOf("kvm_vcpu_events", "sipi_vector");
    private static final int FLAGS = Layout.offsetOf("kvm_vcpu_events", "flags");
    private static final int SMM = Layout.offsetOf("kvm_vcpu_events", "smi.smm");
    private static final int SMI_PENDING = Layout.offsetOf("kvm_vcpu_events", "smi.pending");
    private static final int SMI_INSIDE_NMI = Layout.offsetOf("kvm_vcpu_events", "smi.smm_inside_nmi");
    private static final int LATCHED_INIT = Layout.offsetOf("kvm_vcpu_events", "smi.latched_init");
    private static final int TRIPLE_FAULT_PENDING = Layout.offsetOf("kvm_vcpu_events", "triple_fault.pending");
    private static final int EXCEPTION_HAS_PAYLOAD = Layout.offsetOf("kvm_vcpu_events", "exception_has_payload");
    private static final int EXCEPTION_PAYLOAD = Layout.offsetOf("kvm_vcpu_events", "exception_payload");

    /**
     * A zeroed {@code struct kvm_vcpu_events}, to fill with
     * {@link dev.kvmctl.Vcpu#getVcpuEvents(VcpuEvents)}.
     */
    public VcpuEvents() {
        super(Layout.sizeOf("kvm_vcpu_events"));
    }

    /** {@return whether an exception is being delivered to the guest (injected), to finish at the next entry} */
    public boolean exceptionInjected() { return buffer.get(EXCEPTION_INJECTED) != 0; }

    /**
     * Sets {@code exception.injected}.
     *
     * @param v true to deliver the exception {@link #exceptionVector()} names at the next entry
     * @return this struct
     */
    public VcpuEvents exceptionInjected(boolean v) { buffer.put(EXCEPTION_INJECTED, (byte) (v ? 1 : 0)); return this; }

    /** {@return the vector of the pending or injected exception, 0 to 31} */
    public int exceptionVector() { return Byte.toUnsignedInt(buffer.get(EXCEPTION_VECTOR)); }

    /**
     * Sets {@code exception.nr}.
     *
     * @param v the vector, 0 to 31 (e.g. 6 for #UD); its low 8 bits are stored
     * @return this struct
     */
    public VcpuEvents exceptionVector(int v) { buffer.put(EXCEPTION_VECTOR, (byte) v); return this; }

    /** {@return whether the exception pushes an error code ({@link #exceptionErrorCode()})} */
    public boolean exceptionHasErrorCode() { return buffer.get(EXCEPTION_HAS_ERROR_CODE) != 0; }

    /**
     * Sets {@code exception.has_error_code}.
     *
     * @param v true if it pushes {@link #exceptionErrorCode()}
     * @return this struct
     */
    public VcpuEvents exceptionHasErrorCode(boolean v) { buffer.put(EXCEPTION_HAS_ERROR_CODE, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether an exception is pending (raised, not yet delivered); reported only with {@link Capability#EXCEPTION_PAYLOAD} enabled, else folded into {@link #exceptionInjected()}} */
    public boolean exceptionPending() { return buffer.get(EXCEPTION_PENDING) != 0; }

    /**
     * Sets {@code exception.pending}.
     *
     * @param v true to leave the exception pending
     * @return this struct
     */
    public VcpuEvents exceptionPending(boolean v) { buffer.put(EXCEPTION_PENDING, (byte) (v ? 1 : 0)); return this; }

    /** {@return the error code the exception pushes, when {@link #exceptionHasErrorCode()}} */
    public int exceptionErrorCode() { return buffer.getInt(EXCEPTION_ERROR_CODE); }

    /**
     * Sets {@code exception.error_code}.
     *
     * @param v the error code
     * @return this struct
     */
    public VcpuEvents exceptionErrorCode(int v) { buffer.putInt(EXCEPTION_ERROR_CODE, v); return this; }

    /** {@return whether an external interrupt is being delivered to the guest} */
    public boolean interruptInjected() { return buffer.get(INTERRUPT_INJECTED) != 0; }

    /**
     * Sets {@code interrupt.injected}.
     *
     * @param v true to deliver the interrupt {@link #interruptVector()} names
     * @return this struct
     */
    public VcpuEvents interruptInjected(boolean v) { buffer.put(INTERRUPT_INJECTED, (byte) (v ? 1 : 0)); return this; }

    /** {@return the vector of the injected interrupt, 0 to 255; meaningful when {@link #interruptInjected()}} */
    public int interruptVector() { return Byte.toUnsignedInt(buffer.get(INTERRUPT_VECTOR)); }

    /**
     * Sets {@code interrupt.nr}.
     *
     * @param v the vector, 0 to 255; its low 8 bits are stored
     * @return this struct
     */
    public VcpuEvents interruptVector(int v) { buffer.put(INTERRUPT_VECTOR, (byte) v); return this; }

    /** {@return whether the injected interrupt is a software one ({@code INT n})} */
    public boolean interruptSoft() { return buffer.get(INTERRUPT_SOFT) != 0; }

    /**
     * Sets {@code interrupt.soft}.
     *
     * @param v true for a software interrupt
     * @return this struct
     */
    public VcpuEvents interruptSoft(boolean v) { buffer.put(INTERRUPT_SOFT, (byte) (v ? 1 : 0)); return this; }

    /** {@return the interrupt shadow: {@link #SHADOW_MOV_SS} or {@link #SHADOW_STI} when the last instruction blocks interrupts for one more, else 0; applied with {@link #VALID_SHADOW}} */
    public int interruptShadow() { return Byte.toUnsignedInt(buffer.get(INTERRUPT_SHADOW)); }

    /**
     * Sets {@code interrupt.shadow}.
     *
     * @param v the shadow bits, {@link #SHADOW_MOV_SS} and/or {@link #SHADOW_STI}
     * @return this struct
     */
    public VcpuEvents interruptShadow(int v) { buffer.put(INTERRUPT_SHADOW, (byte) v); return this; }

    /** {@return whether an NMI is being delivered to the guest} */
    public boolean nmiInjected() { return buffer.get(NMI_INJECTED) != 0; }

    /**
     * Sets {@code nmi.injected}.
     *
     * @param v true to deliver an NMI at the next entry
     * @return this struct
     */
    public VcpuEvents nmiInjected(boolean v) { buffer.put(NMI_INJECTED, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether an NMI waits to be delivered (for example while the guest handles another)} */
    public boolean nmiPending() { return buffer.get(NMI_PENDING) != 0; }

    /**
     * Sets {@code nmi.pending}.
     *
     * @param v true to leave an NMI pending (applied with {@link #VALID_NMI_PENDING}), false to drop one
     * @return this struct
     */
    public VcpuEvents nmiPending(boolean v) { buffer.put(NMI_PENDING, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether NMIs are blocked (the guest is in an NMI handler, before its IRET)} */
    public boolean nmiMasked() { return buffer.get(NMI_MASKED) != 0; }

    /**
     * Sets {@code nmi.masked}.
     *
     * @param v true to block NMIs
     * @return this struct
     */
    public VcpuEvents nmiMasked(boolean v) { buffer.put(NMI_MASKED, (byte) (v ? 1 : 0)); return this; }

    /** {@return the startup IPI vector: KVM_SET_VCPU_EVENTS applies it with {@link #VALID_SIPI_VECTOR}, KVM_GET_VCPU_EVENTS always reports 0} */
    public int sipiVector() { return buffer.getInt(SIPI_VECTOR); }

    /**
     * Sets {@code sipi_vector}.
     *
     * @param v the vector
     * @return this struct
     */
    public VcpuEvents sipiVector(int v) { buffer.putInt(SIPI_VECTOR, v); return this; }

    /** {@return the {@code KVM_VCPUEVENT_VALID_*} flags ({@link #VALID_NMI_PENDING} and the rest): which parts KVM_SET_VCPU_EVENTS applies} */
    public int flags() { return buffer.getInt(FLAGS); }

    /**
     * Sets {@code flags}.
     *
     * @param v the flags; KVM refuses ones it does not know with {@code EINVAL}
     * @return this struct
     */
    public VcpuEvents flags(int v) { buffer.putInt(FLAGS, v); return this; }

    /** {@return whether the vCPU is in system management mode; applied with {@link #VALID_SMM}} */
    public boolean smm() { return buffer.get(SMM) != 0; }

    /**
     * Sets {@code smi.smm}.
     *
     * @param v true to enter SMM
     * @return this struct
     */
    public VcpuEvents smm(boolean v) { buffer.put(SMM, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether an SMI waits to be delivered; applied with {@link #VALID_SMM}} */
    public boolean smiPending() { return buffer.get(SMI_PENDING) != 0; }

    /**
     * Sets {@code smi.pending}.
     *
     * @param v true to leave an SMI pending
     * @return this struct
     */
    public VcpuEvents smiPending(boolean v) { buffer.put(SMI_PENDING, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether SMM was entered from an NMI handler; applied with {@link #VALID_SMM}} */
    public boolean smiInsideNmi() { return buffer.get(SMI_INSIDE_NMI) != 0; }

    /**
     * Sets {@code smi.smm_inside_nmi}.
     *
     * @param v true if SMM was entered inside an NMI handler
     * @return this struct
     */
    public VcpuEvents smiInsideNmi(boolean v) { buffer.put(SMI_INSIDE_NMI, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether an INIT arrived while in SMM and waits for its end; applied with {@link #VALID_SMM}} */
    public boolean latchedInit() { return buffer.get(LATCHED_INIT) != 0; }

    /**
     * Sets {@code smi.latched_init}.
     *
     * @param v true to leave an INIT latched
     * @return this struct
     */
    public VcpuEvents latchedInit(boolean v) { buffer.put(LATCHED_INIT, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether a triple fault is pending (needs {@code KVM_CAP_X86_TRIPLE_FAULT_EVENT}); applied with {@link #VALID_TRIPLE_FAULT}} */
    public boolean tripleFaultPending() { return buffer.get(TRIPLE_FAULT_PENDING) != 0; }

    /**
     * Sets {@code triple_fault.pending}.
     *
     * @param v true to leave a triple fault pending
     * @return this struct
     */
    public VcpuEvents tripleFaultPending(boolean v) { buffer.put(TRIPLE_FAULT_PENDING, (byte) (v ? 1 : 0)); return this; }

    /** {@return whether the pending exception carries a payload ({@link #exceptionPayload()}: CR2 for #PF, DR6 bits for #DB); applied with {@link #VALID_PAYLOAD}} */
    public boolean exceptionHasPayload() { return buffer.get(EXCEPTION_HAS_PAYLOAD) != 0; }

    /**
     * Sets {@code exception_has_payload}.
     *
     * @param v true if it carries {@link #exceptionPayload()}
     * @return this struct
     */
    public VcpuEvents exceptionHasPayload(boolean v) { buffer.put(EXCEPTION_HAS_PAYLOAD, (byte) (v ? 1 : 0)); return this; }

    /** {@return the pending exception's payload: the faulting address for #PF, the DR6 bits for #DB} */
    public long exceptionPayload() { return buffer.getLong(EXCEPTION_PAYLOAD); }

    /**
     * Sets {@code exception_payload}.
     *
     * @param v the payload
     * @return this struct
     */
    public VcpuEvents exceptionPayload(long v) { buffer.putLong(EXCEPTION_PAYLOAD, v); return this; }
}
