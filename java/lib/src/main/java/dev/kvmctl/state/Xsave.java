package dev.kvmctl.state;

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
     * An area of {@code size} bytes: {@link dev.kvmctl.Kvm#xsaveSize()} for this host (vCPU calls
     * refuse a smaller one).
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

    public int mxcsr() { return buffer.getInt(MXCSR); }
    public Xsave mxcsr(int v) { buffer.putInt(MXCSR, v); return this; }
    /** Which state components hold non-initial values; a component whose bit is clear is restored to its initial state. */
    public long xstateBv() { return buffer.getLong(XSTATE_BV); }
    public Xsave xstateBv(long v) { buffer.putLong(XSTATE_BV, v); return this; }
    public long xmmLow(int n) { return buffer.getLong(XMM + 16 * n); }
    public long xmmHigh(int n) { return buffer.getLong(XMM + 16 * n + 8); }
}
