package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * Guest debugging controls ({@code struct kvm_guest_debug}): single-step, software and hardware
 * breakpoints.
 *
 * <pre>{@code
 * vcpu.setGuestDebug(new GuestDebug().control(GuestDebug.ENABLE | GuestDebug.SINGLESTEP));
 * VmExit exit = vcpu.run();          // VmExit.Debug after one instruction
 * }</pre>
 */
public final class GuestDebug extends KvmStruct {
    public static final int ENABLE = Layout.intValue("KVM_GUESTDBG_ENABLE");
    public static final int SINGLESTEP = Layout.intValue("KVM_GUESTDBG_SINGLESTEP");
    public static final int USE_SW_BP = Layout.intValue("KVM_GUESTDBG_USE_SW_BP");
    public static final int USE_HW_BP = Layout.intValue("KVM_GUESTDBG_USE_HW_BP");
    private static final int CONTROL = Layout.offsetOf("kvm_guest_debug", "control");
    private static final int DEBUGREG = Layout.offsetOf("kvm_guest_debug", "arch.debugreg");

    public GuestDebug() {
        super(Layout.sizeOf("kvm_guest_debug"));
    }

    public int control() { return buffer.getInt(CONTROL); }
    public GuestDebug control(int v) { buffer.putInt(CONTROL, v); return this; }
    /** debugreg[n], n in 0..7 (DR0-DR3, DR6 at 6, DR7 at 7). */
    public long debugReg(int n) { return buffer.getLong(DEBUGREG + 8 * n); }
    public GuestDebug debugReg(int n, long v) { buffer.putLong(DEBUGREG + 8 * n, v); return this; }
}
