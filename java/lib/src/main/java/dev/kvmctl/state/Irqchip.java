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
    /** The chip id of the master 8259 PIC (IRQs 0 to 7). */
    public static final int PIC_MASTER = Layout.intValue("KVM_IRQCHIP_PIC_MASTER");
    /** The chip id of the slave 8259 PIC (IRQs 8 to 15, cascaded on the master's IRQ 2). */
    public static final int PIC_SLAVE = Layout.intValue("KVM_IRQCHIP_PIC_SLAVE");
    /** The chip id of the IOAPIC (24 pins). */
    public static final int IOAPIC = Layout.intValue("KVM_IRQCHIP_IOAPIC");
    private static final int CHIP_ID = Layout.offsetOf("kvm_irqchip", "chip_id");

    /**
     * A zeroed state of one chip, to fill with {@link dev.kvmctl.Vm#getIrqchip(Irqchip)}.
     *
     * @param chipId which chip: {@link #PIC_MASTER}, {@link #PIC_SLAVE} or {@link #IOAPIC}
     */
    public Irqchip(int chipId) {
        super(Layout.sizeOf("kvm_irqchip"));
        buffer.putInt(CHIP_ID, chipId);
    }

    /**
     * {@return which chip this is the state of: {@link #PIC_MASTER}, {@link #PIC_SLAVE} or {@link #IOAPIC}}
     */
    public int chipId() { return buffer.getInt(CHIP_ID); }
}
