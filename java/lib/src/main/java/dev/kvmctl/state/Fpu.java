package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.util.Objects;

/**
 * The legacy FPU/SSE state ({@code struct kvm_fpu}), for hosts without XSAVE; prefer {@link Xsave}.
 * Every field is readable and settable: the eight x87 registers, the sixteen XMM registers, the
 * control, status and tag words, the last instruction's opcode and pointers, and MXCSR.
 *
 * <pre>{@code
 * Fpu fpu = vcpu.getFpu(new Fpu());
 * vcpu.setFpu(fpu.mxcsr(0x1f80).xmm(0, 0x1122334455667788L, 0));
 * }</pre>
 */
public final class Fpu extends KvmStruct {
    private static final int FPR = Layout.offsetOf("kvm_fpu", "fpr");
    private static final int FCW = Layout.offsetOf("kvm_fpu", "fcw");
    private static final int FSW = Layout.offsetOf("kvm_fpu", "fsw");
    private static final int FTWX = Layout.offsetOf("kvm_fpu", "ftwx");
    private static final int LAST_OPCODE = Layout.offsetOf("kvm_fpu", "last_opcode");
    private static final int LAST_IP = Layout.offsetOf("kvm_fpu", "last_ip");
    private static final int LAST_DP = Layout.offsetOf("kvm_fpu", "last_dp");
    private static final int XMM = Layout.offsetOf("kvm_fpu", "xmm");
    private static final int MXCSR = Layout.offsetOf("kvm_fpu", "mxcsr");
    private static final int FPR_SLOT = Layout.intValue("sizeof kvm_fpu.fpr[0]");
    private static final int XMM_SLOT = Layout.intValue("sizeof kvm_fpu.xmm[0]");
    /** How many x87 registers the struct holds (8: ST0-ST7). */
    public static final int FPR_COUNT = Layout.intValue("sizeof kvm_fpu.fpr") / FPR_SLOT;
    /** How many XMM registers the struct holds (16: XMM0-XMM15). */
    public static final int XMM_COUNT = Layout.intValue("sizeof kvm_fpu.xmm") / XMM_SLOT;

    /** A zeroed {@code struct kvm_fpu}, to fill with {@link dev.kvmctl.Vcpu#getFpu(Fpu)}. */
    public Fpu() {
        super(Layout.sizeOf("kvm_fpu"));
    }

    /**
     * {@return the 64-bit significand of x87 register {@code n} (in FXSAVE order: ST0 first)}
     *
     * @param n 0 to {@link #FPR_COUNT} - 1
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public long fprSignificand(int n) { return buffer.getLong(fpr(n)); }

    /**
     * {@return the sign and 15-bit exponent of x87 register {@code n}: the top 16 bits of its
     * 80-bit value}
     *
     * @param n 0 to {@link #FPR_COUNT} - 1
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public int fprExponent(int n) { return Short.toUnsignedInt(buffer.getShort(fpr(n) + 8)); }

    /**
     * Sets x87 register {@code n} to an 80-bit value.
     *
     * @param n 0 to {@link #FPR_COUNT} - 1
     * @param significand the 64-bit significand (bit 63 the explicit integer bit)
     * @param signExponent the sign (bit 15) and 15-bit biased exponent; its low 16 bits are used
     * @return this struct
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public Fpu fpr(int n, long significand, int signExponent) {
        buffer.putLong(fpr(n), significand);
        buffer.putShort(fpr(n) + 8, (short) signExponent);
        return this;
    }

    private static int fpr(int n) {
        return FPR + FPR_SLOT * Objects.checkIndex(n, FPR_COUNT);
    }

    /**
     * {@return the low 64 bits of XMM register {@code n}}
     *
     * @param n 0 to {@link #XMM_COUNT} - 1
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public long xmmLow(int n) { return buffer.getLong(xmm(n)); }

    /**
     * {@return the high 64 bits of XMM register {@code n}}
     *
     * @param n 0 to {@link #XMM_COUNT} - 1
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public long xmmHigh(int n) { return buffer.getLong(xmm(n) + 8); }

    /**
     * Sets XMM register {@code n}.
     *
     * @param n 0 to {@link #XMM_COUNT} - 1
     * @param low its low 64 bits
     * @param high its high 64 bits
     * @return this struct
     * @throws IndexOutOfBoundsException for any other {@code n}
     */
    public Fpu xmm(int n, long low, long high) {
        buffer.putLong(xmm(n), low);
        buffer.putLong(xmm(n) + 8, high);
        return this;
    }

    private static int xmm(int n) {
        return XMM + XMM_SLOT * Objects.checkIndex(n, XMM_COUNT);
    }

    /** {@return the x87 control word (0x37f after reset): precision, rounding, exception masks} */
    public int fcw() { return Short.toUnsignedInt(buffer.getShort(FCW)); }
    /**
     * Sets the x87 control word.
     *
     * @param v the new value; its low 16 bits are used
     * @return this struct
     */
    public Fpu fcw(int v) { buffer.putShort(FCW, (short) v); return this; }

    /** {@return the x87 status word: exception flags, condition codes, top of stack} */
    public int fsw() { return Short.toUnsignedInt(buffer.getShort(FSW)); }
    /**
     * Sets the x87 status word.
     *
     * @param v the new value; its low 16 bits are used
     * @return this struct
     */
    public Fpu fsw(int v) { buffer.putShort(FSW, (short) v); return this; }

    /** {@return the abridged x87 tag word, FXSAVE format: bit n set when register n holds a value} */
    public int ftwx() { return Byte.toUnsignedInt(buffer.get(FTWX)); }
    /**
     * Sets the abridged x87 tag word.
     *
     * @param v the new value; its low 8 bits are used
     * @return this struct
     */
    public Fpu ftwx(int v) { buffer.put(FTWX, (byte) v); return this; }

    /** {@return the opcode of the last x87 instruction (11 bits)} */
    public int lastOpcode() { return Short.toUnsignedInt(buffer.getShort(LAST_OPCODE)); }
    /**
     * Sets the opcode of the last x87 instruction.
     *
     * @param v the new value; its low 16 bits are stored
     * @return this struct
     */
    public Fpu lastOpcode(int v) { buffer.putShort(LAST_OPCODE, (short) v); return this; }

    /** {@return the address of the last x87 instruction} */
    public long lastIp() { return buffer.getLong(LAST_IP); }
    /**
     * Sets the address of the last x87 instruction.
     *
     * @param v the address
     * @return this struct
     */
    public Fpu lastIp(long v) { buffer.putLong(LAST_IP, v); return this; }

    /** {@return the address of the last x87 instruction's memory operand} */
    public long lastDp() { return buffer.getLong(LAST_DP); }
    /**
     * Sets the address of the last x87 instruction's memory operand.
     *
     * @param v the address
     * @return this struct
     */
    public Fpu lastDp(long v) { buffer.putLong(LAST_DP, v); return this; }

    /**
     * {@return MXCSR, the SSE control and status register (0x1f80 after reset)} Some kernels (this
     * project's PVM host among them) report 0 here; {@link Xsave#mxcsr()} always has it.
     */
    public int mxcsr() { return buffer.getInt(MXCSR); }
    /**
     * Sets MXCSR.
     *
     * @param v the new value; KVM_SET_FPU takes it as given, reserved bits included
     * @return this struct
     */
    public Fpu mxcsr(int v) { buffer.putInt(MXCSR, v); return this; }
}
