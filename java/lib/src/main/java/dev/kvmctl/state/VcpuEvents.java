package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * Pending and injected exceptions, interrupts, NMIs and SMIs ({@code struct kvm_vcpu_events}).
 *
 * <pre>{@code
 * VcpuEvents ev = vcpu.getVcpuEvents(new VcpuEvents());
 * boolean nmiPending = ev.nmiPending();
 * }</pre>
 */
public final class VcpuEvents extends KvmStruct {
    private static final int EXCEPTION_INJECTED = Layout.offsetOf("kvm_vcpu_events", "exception.injected");
    private static final int EXCEPTION_NR = Layout.offsetOf("kvm_vcpu_events", "exception.nr");
    private static final int INTERRUPT_INJECTED = Layout.offsetOf("kvm_vcpu_events", "interrupt.injected");
    private static final int INTERRUPT_NR = Layout.offsetOf("kvm_vcpu_events", "interrupt.nr");
    private static final int NMI_INJECTED = Layout.offsetOf("kvm_vcpu_events", "nmi.injected");
    private static final int NMI_PENDING = Layout.offsetOf("kvm_vcpu_events", "nmi.pending");
    private static final int FLAGS = Layout.offsetOf("kvm_vcpu_events", "flags");

    /**
     * A zeroed {@code struct kvm_vcpu_events}, to fill with
     * {@link dev.kvmctl.Vcpu#getVcpuEvents(VcpuEvents)}.
     */
    public VcpuEvents() {
        super(Layout.sizeOf("kvm_vcpu_events"));
    }

    /**
     * {@return whether an exception is being delivered to the guest (injected), to finish at the next entry}
     */
    public boolean exceptionInjected() { return buffer.get(EXCEPTION_INJECTED) != 0; }
    /**
     * {@return the vector of the injected exception, 0 to 31; meaningful when {@link #exceptionInjected()}}
     */
    public int exceptionVector() { return Byte.toUnsignedInt(buffer.get(EXCEPTION_NR)); }
    /** {@return whether an external interrupt is being delivered to the guest} */
    public boolean interruptInjected() { return buffer.get(INTERRUPT_INJECTED) != 0; }
    /**
     * {@return the vector of the injected interrupt, 0 to 255; meaningful when {@link #interruptInjected()}}
     */
    public int interruptVector() { return Byte.toUnsignedInt(buffer.get(INTERRUPT_NR)); }
    /** {@return whether an NMI is being delivered to the guest} */
    public boolean nmiInjected() { return buffer.get(NMI_INJECTED) != 0; }
    /** {@return whether an NMI waits to be delivered (for example while the guest handles another)} */
    public boolean nmiPending() { return buffer.get(NMI_PENDING) != 0; }
    /**
     * Marks an exception as injected (being delivered), so the next entry delivers it.
     *
     * @param v true to inject the exception {@link #exceptionVector()} names
     * @return this struct
     */
    public VcpuEvents exceptionInjected(boolean v) { buffer.put(EXCEPTION_INJECTED, (byte) (v ? 1 : 0)); return this; }
    /**
     * Sets the vector of the injected exception.
     *
     * @param v the vector, 0 to 31 (e.g. 6 for #UD); its low 8 bits are stored
     * @return this struct
     */
    public VcpuEvents exceptionVector(int v) { buffer.put(EXCEPTION_NR, (byte) v); return this; }
    /**
     * Marks an NMI as pending; KVM_SET_VCPU_EVENTS applies it only with KVM_VCPUEVENT_VALID_NMI_PENDING
     * in the {@link #flags()}, which a struct filled by KVM_GET_VCPU_EVENTS already has.
     *
     * @param v true to leave an NMI pending, false to drop one
     * @return this struct
     */
    public VcpuEvents nmiPending(boolean v) { buffer.put(NMI_PENDING, (byte) (v ? 1 : 0)); return this; }
    /** {@return the {@code KVM_VCPUEVENT_VALID_*} flags: which parts KVM_SET_VCPU_EVENTS applies} */
    public int flags() { return buffer.getInt(FLAGS); }
    /**
     * Sets the {@code KVM_VCPUEVENT_VALID_*} flags: which parts KVM_SET_VCPU_EVENTS applies.
     *
     * @param v the flags; KVM refuses ones it does not know with {@code EINVAL}
     * @return this struct
     */
    public VcpuEvents flags(int v) { buffer.putInt(FLAGS, v); return this; }
}
