package dev.kvmctl.state;

import java.util.Objects;

/**
 * The XSAVE area ({@code struct kvm_xsave}, or the larger area of {@code KVM_GET_XSAVE2}): x87,
 * SSE, AVX and every other extended state the host supports, in the XSAVE layout.
 *
 * <pre>{@code
 * Xsave x = new Xsave(kvm.xsaveSize());
 * vcpu.getXsave(x);
 * long xmm0Low = x.xmmLow(0);
 * }</pre>
 */
public final class Xsave extends KvmStruct {
    /** Offset of MXCSR in the legacy region of the XSAVE layout (an architectural constant). */
    private static final int MXCSR = 24;
    /** Offset of XMM0 in the legacy region. */
    private static final int XMM = 160;
    /** Offset of XSTATE_BV in the XSAVE header. */
    private static final int XSTATE_BV = 512;

    /** The smallest area: {@code struct kvm_xsave}. */
    public static final int MIN_SIZE = dev.kvmctl.internal.bridge.Layout.sizeOf("kvm_xsave");

    /**
     * A zeroed area of {@code size} bytes: {@link dev.kvmctl.Kvm#xsaveSize()} for this host (vCPU
     * calls refuse a smaller one).
     *
     * @param size bytes, at least {@link #MIN_SIZE}
     * @throws IllegalArgumentException if {@code size} is below {@link #MIN_SIZE}
     */
    public Xsave(int size) {
        super(checkSize(size));
    }

    private static int checkSize(int size) {
        if (size < MIN_SIZE) {
            throw new IllegalArgumentException("an XSAVE area has at least " + MIN_SIZE + " bytes, not " + size);
        }
        return size;
    }

    /** {@return MXCSR, the SSE control and status register (0x1f80 after reset)} */
    public int mxcsr() { return buffer.getInt(MXCSR); }
    /**
     * Sets MXCSR.
     *
     * @param v the new value
     * @return this struct
     */
    public Xsave mxcsr(int v) { buffer.putInt(MXCSR, v); return this; }
    /**
     * {@return XSTATE_BV: which state components hold non-initial values (bit 0 x87, bit 1 SSE,
     * bit 2 AVX, ...)} A component whose bit is clear is restored to its initial state.
     */
    public long xstateBv() { return buffer.getLong(XSTATE_BV); }
    /**
     * Sets XSTATE_BV.
     *
     * @param v the components that hold non-initial values; only components the vCPU has
     *     (KVM_SET_XSAVE refuses others)
     * @return this struct
     */
    public Xsave xstateBv(long v) { buffer.putLong(XSTATE_BV, v); return this; }
    /**
     * {@return the low 64 bits of XMM register {@code n}}
     *
     * @param n 0 to 15
     */
    public long xmmLow(int n) { return buffer.getLong(XMM + 16 * Objects.checkIndex(n, 16)); }
    /**
     * {@return the high 64 bits of XMM register {@code n}}
     *
     * @param n 0 to 15
     */
    public long xmmHigh(int n) { return buffer.getLong(XMM + 16 * Objects.checkIndex(n, 16) + 8); }
}
