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
    public static final int RUNNABLE = Layout.intValue("KVM_MP_STATE_RUNNABLE");
    public static final int UNINITIALIZED = Layout.intValue("KVM_MP_STATE_UNINITIALIZED");
    public static final int INIT_RECEIVED = Layout.intValue("KVM_MP_STATE_INIT_RECEIVED");
    public static final int HALTED = Layout.intValue("KVM_MP_STATE_HALTED");
    public static final int SIPI_RECEIVED = Layout.intValue("KVM_MP_STATE_SIPI_RECEIVED");
    private static final int STATE = Layout.offsetOf("kvm_mp_state", "mp_state");

    public MpState() {
        super(Layout.sizeOf("kvm_mp_state"));
    }

    public int state() { return buffer.getInt(STATE); }
    public MpState state(int v) { buffer.putInt(STATE, v); return this; }
}
