package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * The state of one in-kernel interrupt controller ({@code struct kvm_irqchip}): the master PIC,
 * the slave PIC or the IOAPIC.
 *
 * <pre>{@code
 * Irqchip ioapic = vm.getIrqchip(new Irqchip(Irqchip.IOAPIC));
 * }</pre>
 */
public final class Irqchip extends KvmStruct {
    public static final int PIC_MASTER = Layout.intValue("KVM_IRQCHIP_PIC_MASTER");
    public static final int PIC_SLAVE = Layout.intValue("KVM_IRQCHIP_PIC_SLAVE");
    public static final int IOAPIC = Layout.intValue("KVM_IRQCHIP_IOAPIC");
    private static final int CHIP_ID = Layout.offsetOf("kvm_irqchip", "chip_id");

    /** The state of chip {@code chipId}: {@link #PIC_MASTER}, {@link #PIC_SLAVE} or {@link #IOAPIC}. */
    public Irqchip(int chipId) {
        super(Layout.sizeOf("kvm_irqchip"));
        buffer.putInt(CHIP_ID, chipId);
    }

    public int chipId() { return buffer.getInt(CHIP_ID); }
}
