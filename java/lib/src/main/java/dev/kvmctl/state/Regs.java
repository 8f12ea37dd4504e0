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

    public Regs() {
        super(SIZE);
    }

    /** Register {@code i} in {@link #NAMES} order (0 = rax, 8 = r8, 16 = rip, 17 = rflags). */
    public long get(int i) {
        return buffer.getLong(OFFSETS[i]);
    }

    /** Sets register {@code i} in {@link #NAMES} order. */
    public Regs set(int i, long value) {
        buffer.putLong(OFFSETS[i], value);
        return this;
    }

    public long rax() { return buffer.getLong(RAX); }
    public long rbx() { return buffer.getLong(RBX); }
    public long rcx() { return buffer.getLong(RCX); }
    public long rdx() { return buffer.getLong(RDX); }
    public long rsi() { return buffer.getLong(RSI); }
    public long rdi() { return buffer.getLong(RDI); }
    public long rsp() { return buffer.getLong(RSP); }
    public long rbp() { return buffer.getLong(RBP); }
    /** r8 to r15. */
    public long r(int n) {
        if (n < 8 || n > 15) {
            throw new IllegalArgumentException("r" + n + " is not one of r8..r15");
        }
        return get(n);
    }
    public long rip() { return buffer.getLong(RIP); }
    public long rflags() { return buffer.getLong(RFLAGS); }

    public Regs rax(long v) { buffer.putLong(RAX, v); return this; }
    public Regs rbx(long v) { buffer.putLong(RBX, v); return this; }
    public Regs rcx(long v) { buffer.putLong(RCX, v); return this; }
    public Regs rdx(long v) { buffer.putLong(RDX, v); return this; }
    public Regs rsi(long v) { buffer.putLong(RSI, v); return this; }
    public Regs rdi(long v) { buffer.putLong(RDI, v); return this; }
    public Regs rsp(long v) { buffer.putLong(RSP, v); return this; }
    public Regs rbp(long v) { buffer.putLong(RBP, v); return this; }
    /** Sets r8 to r15. */
    public Regs r(int n, long v) {
        if (n < 8 || n > 15) {
            throw new IllegalArgumentException("r" + n + " is not one of r8..r15");
        }
        return set(n, v);
    }
    public Regs rip(long v) { buffer.putLong(RIP, v); return this; }
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
