package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * The local APIC's register page ({@code struct kvm_lapic_state}); registers sit at their MMIO
 * offsets, 32 bits each.
 *
 * <pre>{@code
 * Lapic lapic = vcpu.getLapic(new Lapic());
 * int apicId = lapic.register(0x20) >>> 24;
 * }</pre>
 */
public final class Lapic extends KvmStruct {
    /** A zeroed register page, to fill with {@link dev.kvmctl.Vcpu#getLapic(Lapic)}. */
    public Lapic() {
        super(Layout.sizeOf("kvm_lapic_state"));
    }

    /**
     * {@return the 32-bit register at MMIO offset {@code offset} (0x20 = ID, 0x80 = TPR, 0xf0 = SVR, ...)}
     *
     * @param offset the register's offset in the APIC page, a multiple of 16 below 0x400
     * @throws IndexOutOfBoundsException for an offset past the page
     */
    public int register(int offset) {
        return buffer.getInt(offset);
    }

    /**
     * Sets the 32-bit register at MMIO offset {@code offset}.
     *
     * @param offset the register's offset in the APIC page, a multiple of 16 below 0x400
     * @param value the new value
     * @return this struct
     * @throws IndexOutOfBoundsException for an offset past the page
     */
    public Lapic register(int offset, int value) {
        buffer.putInt(offset, value);
        return this;
    }
}
