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

    public DebugRegs() {
        super(Layout.sizeOf("kvm_debugregs"));
    }

    /** DR0 to DR3. */
    public long db(int n) { return buffer.getLong(DB + 8 * checkIndex(n)); }
    public long dr6() { return buffer.getLong(DR6); }
    public long dr7() { return buffer.getLong(DR7); }
    public DebugRegs db(int n, long v) { buffer.putLong(DB + 8 * checkIndex(n), v); return this; }
    public DebugRegs dr6(long v) { buffer.putLong(DR6, v); return this; }
    public DebugRegs dr7(long v) { buffer.putLong(DR7, v); return this; }

    private static int checkIndex(int n) {
        if (n < 0 || n > 3) {
            throw new IndexOutOfBoundsException("DR" + n + " is not one of DR0..DR3");
        }
        return n;
    }
}
