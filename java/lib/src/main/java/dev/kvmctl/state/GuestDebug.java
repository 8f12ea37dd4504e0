package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.util.Objects;

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
    /** A {@link #control()} bit: debugging is on; without it the other bits are ignored. */
    public static final int ENABLE = Layout.intValue("KVM_GUESTDBG_ENABLE");
    /** A {@link #control()} bit: exit with {@link dev.kvmctl.VmExit.Debug} after every instruction. */
    public static final int SINGLESTEP = Layout.intValue("KVM_GUESTDBG_SINGLESTEP");
    /**
     * A {@link #control()} bit: the guest's {@code int3} exits as {@link dev.kvmctl.VmExit.Debug}
     * instead of reaching the guest.
     */
    public static final int USE_SW_BP = Layout.intValue("KVM_GUESTDBG_USE_SW_BP");
    /**
     * A {@link #control()} bit: the hardware breakpoints in {@link #debugReg(int)} are armed, and
     * exit as {@link dev.kvmctl.VmExit.Debug} when hit.
     */
    public static final int USE_HW_BP = Layout.intValue("KVM_GUESTDBG_USE_HW_BP");
    private static final int CONTROL = Layout.offsetOf("kvm_guest_debug", "control");
    private static final int DEBUGREG = Layout.offsetOf("kvm_guest_debug", "arch.debugreg");

    /** Zeroed controls: debugging off. */
    public GuestDebug() {
        super(Layout.sizeOf("kvm_guest_debug"));
    }

    /**
     * {@return the control bits: {@link #ENABLE}, {@link #SINGLESTEP}, {@link #USE_SW_BP},
     * {@link #USE_HW_BP}}
     */
    public int control() { return buffer.getInt(CONTROL); }
    /**
     * Sets the control bits.
     *
     * @param v {@link #ENABLE} or'ed with the features wanted, or 0 to turn debugging off
     * @return this struct
     */
    public GuestDebug control(int v) { buffer.putInt(CONTROL, v); return this; }
    /**
     * {@return the hardware breakpoint register {@code debugreg[n]}: DR0 to DR3 at 0 to 3, DR7 at 7}
     *
     * @param n 0 to 7
     */
    public long debugReg(int n) { return buffer.getLong(DEBUGREG + 8 * Objects.checkIndex(n, 8)); }
    /**
     * Sets the hardware breakpoint register {@code debugreg[n]}, used with {@link #USE_HW_BP}.
     *
     * @param n 0 to 7: DR0 to DR3 at 0 to 3 (guest-virtual addresses), DR7 at 7 (which are enabled)
     * @param v the new value
     * @return this struct
     */
    public GuestDebug debugReg(int n, long v) { buffer.putLong(DEBUGREG + 8 * Objects.checkIndex(n, 8), v); return this; }
}
