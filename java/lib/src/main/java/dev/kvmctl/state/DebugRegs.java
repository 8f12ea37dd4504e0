package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * Debug registers DR0-DR3, DR6 and DR7 ({@code struct kvm_debugregs}).
 *
 * <pre>{@code
 * DebugRegs d = vcpu.getDebugRegs(new DebugRegs());
 * long dr7 = d.dr7();
 * }</pre>
 */
public final class DebugRegs extends KvmStruct {
    private static final int DB = Layout.offsetOf("kvm_debugregs", "db");
    private static final int DR6 = Layout.offsetOf("kvm_debugregs", "dr6");
    private static final int DR7 = Layout.offsetOf("kvm_debugregs", "dr7");
    private static final int FLAGS = Layout.offsetOf("kvm_debugregs", "flags");
    /** How many breakpoint address registers the struct holds (4: DR0-DR3). */
    public static final int DB_COUNT = Layout.intValue("sizeof kvm_debugregs.db") / Long.BYTES;

    /**
     * A zeroed {@code struct kvm_debugregs}, to fill with
     * {@link dev.kvmctl.Vcpu#getDebugRegs(DebugRegs)}.
     */
    public DebugRegs() {
        super(Layout.sizeOf("kvm_debugregs"));
    }

    /**
     * {@return breakpoint address register DR{@code n}: a guest-virtual address}
     *
     * @param n 0 to 3
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public long db(int n) { return buffer.getLong(DB + 8 * checkIndex(n)); }
    /** {@return DR6, the debug status: which breakpoint or condition fired} */
    public long dr6() { return buffer.getLong(DR6); }
    /** {@return DR7, the debug control: which breakpoints are enabled, and on what} */
    public long dr7() { return buffer.getLong(DR7); }
    /**
     * Sets breakpoint address register DR{@code n}.
     *
     * @param n 0 to 3
     * @param v a guest-virtual address
     * @return this struct
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public DebugRegs db(int n, long v) { buffer.putLong(DB + 8 * checkIndex(n), v); return this; }
    /**
     * Sets DR6, the debug status.
     *
     * @param v the new value, its upper 32 bits clear (KVM_SET_DEBUGREGS refuses others)
     * @return this struct
     */
    public DebugRegs dr6(long v) { buffer.putLong(DR6, v); return this; }
    /**
     * Sets DR7, the debug control.
     *
     * @param v the new value, its upper 32 bits clear (KVM_SET_DEBUGREGS refuses others)
     * @return this struct
     */
    public DebugRegs dr7(long v) { buffer.putLong(DR7, v); return this; }
    /** {@return the {@code flags} field (no flag is defined; KVM leaves it 0)} */
    public long flags() { return buffer.getLong(FLAGS); }
    /**
     * Sets the {@code flags} field.
     *
     * @param v the flags; 0, as KVM_SET_DEBUGREGS refuses any other with {@code EINVAL}
     * @return this struct
     */
    public DebugRegs flags(long v) { buffer.putLong(FLAGS, v); return this; }

    private static int checkIndex(int n) {
        if (n < 0 || n >= DB_COUNT) {
            throw new IndexOutOfBoundsException("DR" + n + " is not one of DR0..DR3");
        }
        return n;
    }
}
