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
    public Lapic() {
        super(Layout.sizeOf("kvm_lapic_state"));
    }

    /** The 32-bit register at MMIO offset {@code offset} (0x20 = ID, 0x80 = TPR, 0xf0 = SVR, ...). */
    public int register(int offset) {
        return buffer.getInt(offset);
    }

    public Lapic register(int offset, int value) {
        buffer.putInt(offset, value);
        return this;
    }
}
