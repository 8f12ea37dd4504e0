package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * A vCPU's multiprocessing state ({@code struct kvm_mp_state}): runnable, halted, waiting for
 * INIT/SIPI.
 *
 * <pre>{@code
 * MpState mp = vcpu.getMpState(new MpState());
 * boolean halted = mp.state() == MpState.HALTED;
 * }</pre>
 */
public final class MpState extends KvmStruct {
    /** The vCPU runs (the only state without an in-kernel irqchip). */
    public static final int RUNNABLE = Layout.intValue("KVM_MP_STATE_RUNNABLE");
    /** An application processor that has not received INIT yet. */
    public static final int UNINITIALIZED = Layout.intValue("KVM_MP_STATE_UNINITIALIZED");
    /** The vCPU received INIT and waits for a SIPI. */
    public static final int INIT_RECEIVED = Layout.intValue("KVM_MP_STATE_INIT_RECEIVED");
    /** The vCPU executed {@code hlt} and waits, in the kernel, for an interrupt. */
    public static final int HALTED = Layout.intValue("KVM_MP_STATE_HALTED");
    /** The vCPU received a SIPI and starts at its vector on the next run. */
    public static final int SIPI_RECEIVED = Layout.intValue("KVM_MP_STATE_SIPI_RECEIVED");
    private static final int STATE = Layout.offsetOf("kvm_mp_state", "mp_state");

    /** A zeroed {@code struct kvm_mp_state}, to fill with {@link dev.kvmctl.Vcpu#getMpState(MpState)}. */
    public MpState() {
        super(Layout.sizeOf("kvm_mp_state"));
    }

    /** {@return the state: {@link #RUNNABLE}, {@link #HALTED} or another {@code KVM_MP_STATE_*}} */
    public int state() { return buffer.getInt(STATE); }
    /**
     * Sets the state.
     *
     * @param v {@link #RUNNABLE}, {@link #HALTED} or another {@code KVM_MP_STATE_*}
     * @return this struct
     */
    public MpState state(int v) { buffer.putInt(STATE, v); return this; }
}
