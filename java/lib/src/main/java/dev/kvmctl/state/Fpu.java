package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.util.Objects;

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

    /** A zeroed {@code struct kvm_fpu}, to fill with {@link dev.kvmctl.Vcpu#getFpu(Fpu)}. */
    public Fpu() {
        super(Layout.sizeOf("kvm_fpu"));
    }

    /** {@return the x87 control word (0x37f after reset): precision, rounding, exception masks} */
    public int fcw() { return Short.toUnsignedInt(buffer.getShort(FCW)); }
    /** {@return MXCSR, the SSE control and status register (0x1f80 after reset)} */
    public int mxcsr() { return buffer.getInt(MXCSR); }
    /**
     * Sets the x87 control word.
     *
     * @param v the new value; its low 16 bits are used
     * @return this struct
     */
    public Fpu fcw(int v) { buffer.putShort(FCW, (short) v); return this; }
    /**
     * Sets MXCSR.
     *
     * @param v the new value
     * @return this struct
     */
    public Fpu mxcsr(int v) { buffer.putInt(MXCSR, v); return this; }

    /**
     * {@return the low 64 bits of XMM register {@code n}}
     *
     * @param n 0 to 15
     */
    public long xmmLow(int n) {
        return buffer.getLong(XMM + 16 * Objects.checkIndex(n, 16));
    }

    /**
     * {@return the high 64 bits of XMM register {@code n}}
     *
     * @param n 0 to 15
     */
    public long xmmHigh(int n) {
        return buffer.getLong(XMM + 16 * Objects.checkIndex(n, 16) + 8);
    }
}
