package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.util.Objects;

/**
 * The local APIC's register page ({@code struct kvm_lapic_state}); registers sit at their MMIO
 * offsets, 32 bits each, every 16 bytes. {@link Register} names each one; the offsets are the
 * APIC's architectural register map (Intel SDM vol. 3, table "Local APIC Register Address Map"),
 * which the kernel copies this page from, not a C struct layout.
 *
 * <pre>{@code
 * Lapic lapic = vcpu.getLapic(new Lapic());
 * int apicId = lapic.apicId();
 * vcpu.setLapic(lapic.register(Lapic.Register.TPR, 0x20));
 * }</pre>
 */
public final class Lapic extends KvmStruct {
    /** The page's size in bytes ({@code KVM_APIC_REG_SIZE}, 1 KiB). */
    public static final int SIZE = Layout.intValue("KVM_APIC_REG_SIZE");
    /** Bytes between two registers. */
    private static final int STRIDE = 16;
    /** 32-bit words in each of ISR, TMR and IRR (256 vectors). */
    public static final int VECTOR_WORDS = 8;

    /** The local APIC's registers, by their offset in the page. */
    public enum Register {
        /** the local APIC id (xAPIC: bits 31-24). */
        ID(0x20),
        /** the version and the number of LVT entries. */
        VERSION(0x30),
        /** the task priority register. */
        TPR(0x80),
        /** the arbitration priority register. */
        APR(0x90),
        /** the processor priority register. */
        PPR(0xa0),
        /** end of interrupt (write only). */
        EOI(0xb0),
        /** the remote read register. */
        RRD(0xc0),
        /** the logical destination register. */
        LDR(0xd0),
        /** the destination format register. */
        DFR(0xe0),
        /** the spurious interrupt vector register (bit 8: APIC software enable). */
        SVR(0xf0),
        /** the in-service register, first of 8 words (see {@link Lapic#isr(int)}). */
        ISR(0x100),
        /** the trigger mode register, first of 8 words. */
        TMR(0x180),
        /** the interrupt request register, first of 8 words. */
        IRR(0x200),
        /** the error status register. */
        ESR(0x280),
        /** the LVT entry of corrected machine-check interrupts. */
        LVT_CMCI(0x2f0),
        /** the interrupt command register, low half (a write sends the IPI). */
        ICR_LOW(0x300),
        /** the interrupt command register, high half (the destination). */
        ICR_HIGH(0x310),
        /** the LVT entry of the timer. */
        LVT_TIMER(0x320),
        /** the LVT entry of the thermal sensor. */
        LVT_THERMAL(0x330),
        /** the LVT entry of the performance counters. */
        LVT_PERF(0x340),
        /** the LVT entry of the LINT0 pin. */
        LVT_LINT0(0x350),
        /** the LVT entry of the LINT1 pin. */
        LVT_LINT1(0x360),
        /** the LVT entry of APIC errors. */
        LVT_ERROR(0x370),
        /** the timer's initial count (ICR). */
        TIMER_INITIAL_COUNT(0x380),
        /** the timer's current count (CCR). */
        TIMER_CURRENT_COUNT(0x390),
        /** the timer's divide configuration (DCR). */
        TIMER_DIVIDE(0x3e0);

        private final int offset;

        Register(int offset) {
            this.offset = offset;
        }

        /** {@return the register's offset in the APIC page} */
        public int offset() {
            return offset;
        }
    }

    /** A zeroed register page, to fill with {@link dev.kvmctl.Vcpu#getLapic(Lapic)}. */
    public Lapic() {
        super(Layout.sizeOf("kvm_lapic_state"));
    }

    /**
     * {@return the 32-bit register at MMIO offset {@code offset} (0x20 = ID, 0x80 = TPR, 0xf0 = SVR, ...)}
     *
     * @param offset the register's offset in the APIC page, a multiple of 16 below {@link #SIZE}
     * @throws IllegalArgumentException for an offset that is not a multiple of 16
     * @throws IndexOutOfBoundsException for an offset past the page
     */
    public int register(int offset) {
        return buffer.getInt(check(offset));
    }

    /**
     * Sets the 32-bit register at MMIO offset {@code offset}.
     *
     * @param offset the register's offset in the APIC page, a multiple of 16 below {@link #SIZE}
     * @param value the new value
     * @return this struct
     * @throws IllegalArgumentException for an offset that is not a multiple of 16
     * @throws IndexOutOfBoundsException for an offset past the page
     */
    public Lapic register(int offset, int value) {
        buffer.putInt(check(offset), value);
        return this;
    }

    /**
     * {@return the value of register {@code r}}
     *
     * @param r the register
     */
    public int register(Register r) {
        return buffer.getInt(r.offset);
    }

    /**
     * Sets register {@code r}.
     *
     * @param r the register
     * @param value the new value
     * @return this struct
     */
    public Lapic register(Register r, int value) {
        buffer.putInt(r.offset, value);
        return this;
    }

    /** {@return the xAPIC id: bits 31-24 of {@link Register#ID}} */
    public int apicId() {
        return register(Register.ID) >>> 24;
    }

    /**
     * {@return word {@code i} of the in-service register: bit n is vector 32 * i + n}
     *
     * @param i 0 to {@link #VECTOR_WORDS} - 1
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public int isr(int i) { return word(Register.ISR, i); }

    /**
     * {@return word {@code i} of the trigger mode register: bit n set when vector 32 * i + n is level-triggered}
     *
     * @param i 0 to {@link #VECTOR_WORDS} - 1
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public int tmr(int i) { return word(Register.TMR, i); }

    /**
     * {@return word {@code i} of the interrupt request register: bit n is vector 32 * i + n}
     *
     * @param i 0 to {@link #VECTOR_WORDS} - 1
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public int irr(int i) { return word(Register.IRR, i); }

    private int word(Register first, int i) {
        return buffer.getInt(first.offset + STRIDE * Objects.checkIndex(i, VECTOR_WORDS));
    }

    private static int check(int offset) {
        Objects.checkIndex(offset, SIZE - 3);
        if (offset % STRIDE != 0) {
            throw new IllegalArgumentException("APIC registers sit every 16 bytes; offset 0x"
                    + Integer.toHexString(offset) + " is not one");
        }
        return offset;
    }
}
