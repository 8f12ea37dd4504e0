package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * The legacy FPU/SSE state ({@code struct kvm_fpu}), for hosts without XSAVE; prefer {@link Xsave}.
 *
 * <pre>{@code
 * Fpu fpu = vcpu.getFpu(new Fpu());
 * int mxcsr = fpu.mxcsr();
 * }</pre>
 */
public final class Fpu extends KvmStruct {
    private static final int FCW = Layout.offsetOf("kvm_fpu", "fcw");
    private static final int MXCSR = Layout.offsetOf("kvm_fpu", "mxcsr");
    private static final int XMM = Layout.offsetOf("kvm_fpu", "xmm");

    public Fpu() {
        super(Layout.sizeOf("kvm_fpu"));
    }

    public int fcw() { return Short.toUnsignedInt(buffer.getShort(FCW)); }
    public int mxcsr() { return buffer.getInt(MXCSR); }
    public Fpu fcw(int v) { buffer.putShort(FCW, (short) v); return this; }
    public Fpu mxcsr(int v) { buffer.putInt(MXCSR, v); return this; }

    /** The low 64 bits of XMM register {@code n}. */
    public long xmmLow(int n) {
        return buffer.getLong(XMM + 16 * n);
    }

    /** The high 64 bits of XMM register {@code n}. */
    public long xmmHigh(int n) {
        return buffer.getLong(XMM + 16 * n + 8);
    }
}
