package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * General-purpose registers ({@code struct kvm_regs}), read and written in place.
 *
 * <pre>{@code
 * Regs regs = vcpu.getRegs();        // the vCPU's own buffer, refreshed by KVM_GET_REGS
 * regs.rip(0x1000).rflags(0x2);
 * vcpu.setRegs(regs);                // KVM_SET_REGS straight from the same buffer
 * }</pre>
 */
public final class Regs extends KvmStruct {
    /** Register names in {@code struct kvm_regs} order, for dumps and tests. */
    public static final String[] NAMES = {
        "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
        "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15", "rip", "rflags",
    };

    private static final int SIZE = Layout.sizeOf("kvm_regs");
    private static final int[] OFFSETS = new int[NAMES.length];

    static {
        for (int i = 0; i < NAMES.length; i++) {
            OFFSETS[i] = Layout.offsetOf("kvm_regs", NAMES[i]);
        }
    }

    private static final int RAX = OFFSETS[0], RBX = OFFSETS[1], RCX = OFFSETS[2], RDX = OFFSETS[3];
    private static final int RSI = OFFSETS[4], RDI = OFFSETS[5], RSP = OFFSETS[6], RBP = OFFSETS[7];
    private static final int RIP = OFFSETS[16], RFLAGS = OFFSETS[17];

    /** A zeroed {@code struct kvm_regs}, to fill with {@link dev.kvmctl.Vcpu#getRegs(Regs)} or by hand. */
    public Regs() {
        super(SIZE);
    }

    /**
     * {@return register {@code i} in {@link #NAMES} order (0 = rax, 8 = r8, 16 = rip, 17 = rflags)}
     *
     * @param i the register's index in {@link #NAMES}, 0 to 17
     * @throws ArrayIndexOutOfBoundsException for any other index
     */
    public long get(int i) {
        return buffer.getLong(OFFSETS[i]);
    }

    /**
     * Sets register {@code i} in {@link #NAMES} order.
     *
     * @param i the register's index in {@link #NAMES}, 0 to 17
     * @param value the new value
     * @return this struct
     * @throws ArrayIndexOutOfBoundsException for any other index
     */
    public Regs set(int i, long value) {
        buffer.putLong(OFFSETS[i], value);
        return this;
    }

    /** {@return RAX} */
    public long rax() { return buffer.getLong(RAX); }
    /** {@return RBX} */
    public long rbx() { return buffer.getLong(RBX); }
    /** {@return RCX} */
    public long rcx() { return buffer.getLong(RCX); }
    /** {@return RDX} */
    public long rdx() { return buffer.getLong(RDX); }
    /** {@return RSI} */
    public long rsi() { return buffer.getLong(RSI); }
    /** {@return RDI} */
    public long rdi() { return buffer.getLong(RDI); }
    /** {@return RSP, the stack pointer} */
    public long rsp() { return buffer.getLong(RSP); }
    /** {@return RBP} */
    public long rbp() { return buffer.getLong(RBP); }
    /**
     * {@return register r{@code n}}
     *
     * @param n 8 to 15
     * @throws IllegalArgumentException for any other {@code n}
     */
    public long r(int n) {
        if (n < 8 || n > 15) {
            throw new IllegalArgumentException("r" + n + " is not one of r8..r15");
        }
        return get(n);
    }
    /** {@return RIP, the address of the next instruction} */
    public long rip() { return buffer.getLong(RIP); }
    /** {@return RFLAGS (bit 1 is always set; bit 9 is IF, interrupts enabled)} */
    public long rflags() { return buffer.getLong(RFLAGS); }

    /**
     * Sets RAX.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rax(long v) { buffer.putLong(RAX, v); return this; }
    /**
     * Sets RBX.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rbx(long v) { buffer.putLong(RBX, v); return this; }
    /**
     * Sets RCX.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rcx(long v) { buffer.putLong(RCX, v); return this; }
    /**
     * Sets RDX.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rdx(long v) { buffer.putLong(RDX, v); return this; }
    /**
     * Sets RSI.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rsi(long v) { buffer.putLong(RSI, v); return this; }
    /**
     * Sets RDI.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rdi(long v) { buffer.putLong(RDI, v); return this; }
    /**
     * Sets RSP.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rsp(long v) { buffer.putLong(RSP, v); return this; }
    /**
     * Sets RBP.
     *
     * @param v the new value
     * @return this struct
     */
    public Regs rbp(long v) { buffer.putLong(RBP, v); return this; }
    /**
     * Sets register r{@code n}.
     *
     * @param n 8 to 15
     * @param v the new value
     * @return this struct
     * @throws IllegalArgumentException for any other {@code n}
     */
    public Regs r(int n, long v) {
        if (n < 8 || n > 15) {
            throw new IllegalArgumentException("r" + n + " is not one of r8..r15");
        }
        return set(n, v);
    }
    /**
     * Sets RIP.
     *
     * @param v the address the guest continues at (guest-virtual; in real mode, the offset in CS)
     * @return this struct
     */
    public Regs rip(long v) { buffer.putLong(RIP, v); return this; }
    /**
     * Sets RFLAGS.
     *
     * @param v the new value, with bit 1 set (the CPU requires it; 2 is the usual start value)
     * @return this struct
     */
    public Regs rflags(long v) { buffer.putLong(RFLAGS, v); return this; }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < NAMES.length; i++) {
            sb.append(String.format("%-6s %016x", NAMES[i], get(i))).append(i % 3 == 2 ? "\n" : "  ");
        }
        return sb.toString();
    }
}
