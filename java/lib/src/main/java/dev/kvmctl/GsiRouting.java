package dev.kvmctl;

import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.Memory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * A GSI routing table for {@link Vm#setGsiRouting(GsiRouting)} ({@code KVM_SET_GSI_ROUTING}):
 * which irqchip pin or which MSI each GSI raises. The table replaces the VM's whole default
 * routing, so list every GSI the guest uses.
 *
 * <pre>{@code
 * vm.setGsiRouting(new GsiRouting().irqchip(4, Irqchip.IOAPIC, 4).msi(24, 0xfee00000L, 0x41));
 * }</pre>
 */
public final class GsiRouting {
    static final int TYPE_IRQCHIP = Layout.intValue("KVM_IRQ_ROUTING_IRQCHIP");
    static final int TYPE_MSI = Layout.intValue("KVM_IRQ_ROUTING_MSI");
    private static final int MSI_VALID_DEVID = Layout.intValue("KVM_MSI_VALID_DEVID");
    private static final int HEADER = Layout.offsetOf("kvm_irq_routing", "entries");
    private static final int NR = Layout.offsetOf("kvm_irq_routing", "nr");
    private static final int ENTRY = Layout.sizeOf("kvm_irq_routing_entry");
    private static final int GSI = Layout.offsetOf("kvm_irq_routing_entry", "gsi");
    private static final int TYPE = Layout.offsetOf("kvm_irq_routing_entry", "type");
    private static final int FLAGS = Layout.offsetOf("kvm_irq_routing_entry", "flags");
    private static final int CHIP = Layout.offsetOf("kvm_irq_routing_entry", "u.irqchip.irqchip");
    private static final int PIN = Layout.offsetOf("kvm_irq_routing_entry", "u.irqchip.pin");
    private static final int ADDRESS_LO = Layout.offsetOf("kvm_irq_routing_entry", "u.msi.address_lo");
    private static final int ADDRESS_HI = Layout.offsetOf("kvm_irq_routing_entry", "u.msi.address_hi");
    private static final int DATA = Layout.offsetOf("kvm_irq_routing_entry", "u.msi.data");
    private static final int DEVID = Layout.offsetOf("kvm_irq_routing_entry", "u.msi.devid");

    private final List<long[]> entries = new ArrayList<>();

    /** An empty table: setting it removes every route. */
    public GsiRouting() {}

    /**
     * Routes {@code gsi} to a pin of an in-kernel interrupt controller.
     *
     * @param gsi the GSI
     * @param chip {@link dev.kvmctl.state.Irqchip#PIC_MASTER}, {@code PIC_SLAVE} or {@code IOAPIC}
     * @param pin the controller's input pin (0-7 on a PIC, 0-23 on the IOAPIC)
     * @return this table
     */
    public GsiRouting irqchip(int gsi, int chip, int pin) {
        entries.add(new long[] {gsi, TYPE_IRQCHIP, 0, chip, pin});
        return this;
    }

    /**
     * Routes {@code gsi} to a message-signalled interrupt.
     *
     * @param gsi the GSI
     * @param address the MSI address (on x86, {@code 0xfee00000} plus the destination APIC id)
     * @param data the MSI data (on x86, the vector and delivery mode)
     * @return this table
     */
    public GsiRouting msi(int gsi, long address, int data) {
        entries.add(new long[] {gsi, TYPE_MSI, 0, address, data, 0});
        return this;
    }

    /**
     * As {@link #msi(int, long, int)}, with a device id ({@code KVM_MSI_VALID_DEVID}), for
     * interrupt controllers that translate MSIs per device.
     *
     * @param gsi the GSI
     * @param address the MSI address
     * @param data the MSI data
     * @param devid the requester's device id
     * @return this table
     */
    public GsiRouting msi(int gsi, long address, int data, int devid) {
        entries.add(new long[] {gsi, TYPE_MSI, MSI_VALID_DEVID, address, data, devid});
        return this;
    }

    /** {@return how many routes the table has} */
    public int size() {
        return entries.size();
    }

    /** The table as {@code struct kvm_irq_routing}, in a new direct buffer. */
    ByteBuffer toStruct() {
        ByteBuffer b = Memory.allocate(HEADER + ENTRY * Math.max(1, entries.size()));
        b.putInt(NR, entries.size());
        for (int i = 0; i < entries.size(); i++) {
            long[] e = entries.get(i);
            int at = HEADER + i * ENTRY;
            b.putInt(at + GSI, (int) e[0]);
            b.putInt(at + TYPE, (int) e[1]);
            b.putInt(at + FLAGS, (int) e[2]);
            if (e[1] == TYPE_IRQCHIP) {
                b.putInt(at + CHIP, (int) e[3]);
                b.putInt(at + PIN, (int) e[4]);
            } else {
                b.putInt(at + ADDRESS_LO, (int) e[3]);
                b.putInt(at + ADDRESS_HI, (int) (e[3] >>> 32));
                b.putInt(at + DATA, (int) e[4]);
                b.putInt(at + DEVID, (int) e[5]);
            }
        }
        return b;
    }

    @Override
    public String toString() {
        return "GsiRouting[" + entries.size() + " routes]";
    }
}
