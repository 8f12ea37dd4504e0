package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.util.Objects;

/**
 * The state of one in-kernel interrupt controller ({@code struct kvm_irqchip}): the master PIC,
 * the slave PIC or the IOAPIC. Every field is readable and settable: a PIC's registers through
 * {@link #pic(PicField)}, the IOAPIC's base, id, IRR, register select and redirection table through
 * the {@code ioapic*} and {@code redirection*} methods. Reading a PIC field of an IOAPIC's state, or
 * the reverse, throws {@link IllegalStateException}: the union holds one or the other.
 *
 * <pre>{@code
 * Irqchip ioapic = vm.getIrqchip(new Irqchip(Irqchip.IOAPIC));
 * Irqchip.Redirection pin4 = ioapic.redirection(4);
 * vm.setIrqchip(ioapic.redirection(4, pin4.withMasked(false)));
 * }</pre>
 */
public final class Irqchip extends KvmStruct {
    /** The chip id of the master 8259 PIC (IRQs 0 to 7). */
    public static final int PIC_MASTER = Layout.intValue("KVM_IRQCHIP_PIC_MASTER");
    /** The chip id of the slave 8259 PIC (IRQs 8 to 15, cascaded on the master's IRQ 2). */
    public static final int PIC_SLAVE = Layout.intValue("KVM_IRQCHIP_PIC_SLAVE");
    /** The chip id of the IOAPIC (24 pins). */
    public static final int IOAPIC = Layout.intValue("KVM_IRQCHIP_IOAPIC");
    /** How many pins, and redirection table entries, the IOAPIC has. */
    public static final int IOAPIC_PINS = Layout.intValue("KVM_IOAPIC_NUM_PINS");
    private static final int CHIP_ID = Layout.offsetOf("kvm_irqchip", "chip_id");
    private static final int CHIP = Layout.offsetOf("kvm_irqchip", "chip");
    private static final int IOAPIC_BASE = CHIP + Layout.offsetOf("kvm_ioapic_state", "base_address");
    private static final int IOAPIC_IOREGSEL = CHIP + Layout.offsetOf("kvm_ioapic_state", "ioregsel");
    private static final int IOAPIC_ID = CHIP + Layout.offsetOf("kvm_ioapic_state", "id");
    private static final int IOAPIC_IRR = CHIP + Layout.offsetOf("kvm_ioapic_state", "irr");
    private static final int REDIRTBL = CHIP + Layout.offsetOf("kvm_ioapic_state", "redirtbl");
    private static final int REDIRECTION_SIZE = Layout.intValue("sizeof kvm_ioapic_state.redirtbl[0]");

    /** The registers of an 8259 PIC's state ({@code struct kvm_pic_state}), one byte each. */
    public enum PicField {
        /** {@code last_irr}: the IRR as last sampled, for edge detection. */
        LAST_IRR("last_irr"),
        /** {@code irr}: the interrupt request register: lines asserted. */
        IRR("irr"),
        /** {@code imr}: the interrupt mask register: lines masked. */
        IMR("imr"),
        /** {@code isr}: the in-service register: interrupts being handled. */
        ISR("isr"),
        /** {@code priority_add}: the priority rotation: the line with the highest priority. */
        PRIORITY_ADD("priority_add"),
        /** {@code irq_base}: the vector of line 0 (ICW2). */
        IRQ_BASE("irq_base"),
        /** {@code read_reg_select}: which register a read of the command port returns (0 IRR, 1 ISR). */
        READ_REG_SELECT("read_reg_select"),
        /** {@code poll}: whether poll mode is on (OCW3). */
        POLL("poll"),
        /** {@code special_mask}: whether special mask mode is on (OCW3). */
        SPECIAL_MASK("special_mask"),
        /** {@code init_state}: the initialization sequence step (0 when initialized). */
        INIT_STATE("init_state"),
        /** {@code auto_eoi}: whether automatic end-of-interrupt is on (ICW4). */
        AUTO_EOI("auto_eoi"),
        /** {@code rotate_on_auto_eoi}: whether priorities rotate on automatic EOI. */
        ROTATE_ON_AUTO_EOI("rotate_on_auto_eoi"),
        /** {@code special_fully_nested_mode}: whether special fully nested mode is on (ICW4). */
        SPECIAL_FULLY_NESTED_MODE("special_fully_nested_mode"),
        /** {@code init4}: whether the initialization sequence includes ICW4. */
        INIT4("init4"),
        /** {@code elcr}: the edge/level control register: lines that are level-triggered. */
        ELCR("elcr"),
        /** {@code elcr_mask}: the ELCR bits the guest may change. */
        ELCR_MASK("elcr_mask");

        private final int offset;

        PicField(String field) {
            this.offset = CHIP + Layout.offsetOf("kvm_pic_state", field);
        }
    }

    /**
     * A zeroed state of one chip, to fill with {@link dev.kvmctl.Vm#getIrqchip(Irqchip)}.
     *
     * @param chipId which chip: {@link #PIC_MASTER}, {@link #PIC_SLAVE} or {@link #IOAPIC}
     * @throws IllegalArgumentException for any other id
     */
    public Irqchip(int chipId) {
        super(Layout.sizeOf("kvm_irqchip"));
        if (chipId != PIC_MASTER && chipId != PIC_SLAVE && chipId != IOAPIC) {
            throw new IllegalArgumentException("chip id " + chipId + " is none of PIC_MASTER ("
                    + PIC_MASTER + "), PIC_SLAVE (" + PIC_SLAVE + ") and IOAPIC (" + IOAPIC + ")");
        }
        buffer.putInt(CHIP_ID, chipId);
    }

    /**
     * {@return which chip this is the state of: {@link #PIC_MASTER}, {@link #PIC_SLAVE} or {@link #IOAPIC}}
     */
    public int chipId() { return buffer.getInt(CHIP_ID); }

    /**
     * {@return a PIC register, 0 to 255}
     *
     * @param field the register
     * @throws IllegalStateException if this is the IOAPIC's state
     */
    public int pic(PicField field) {
        requirePic();
        return Byte.toUnsignedInt(buffer.get(field.offset));
    }

    /**
     * Sets a PIC register.
     *
     * @param field the register
     * @param value the new value; its low 8 bits are stored
     * @return this struct
     * @throws IllegalStateException if this is the IOAPIC's state
     */
    public Irqchip pic(PicField field, int value) {
        requirePic();
        buffer.put(field.offset, (byte) value);
        return this;
    }

    /**
     * {@return the IOAPIC's MMIO base address (0xfec00000 by default)}
     *
     * @throws IllegalStateException if this is a PIC's state
     */
    public long ioapicBase() { requireIoapic(); return buffer.getLong(IOAPIC_BASE); }

    /**
     * Sets the IOAPIC's MMIO base address.
     *
     * @param v the guest-physical address
     * @return this struct
     * @throws IllegalStateException if this is a PIC's state
     */
    public Irqchip ioapicBase(long v) { requireIoapic(); buffer.putLong(IOAPIC_BASE, v); return this; }

    /**
     * {@return the IOAPIC's register select ({@code IOREGSEL}): the register the data window shows}
     *
     * @throws IllegalStateException if this is a PIC's state
     */
    public int ioapicRegisterSelect() { requireIoapic(); return buffer.getInt(IOAPIC_IOREGSEL); }

    /**
     * Sets the IOAPIC's register select.
     *
     * @param v the register index
     * @return this struct
     * @throws IllegalStateException if this is a PIC's state
     */
    public Irqchip ioapicRegisterSelect(int v) { requireIoapic(); buffer.putInt(IOAPIC_IOREGSEL, v); return this; }

    /**
     * {@return the IOAPIC's id}
     *
     * @throws IllegalStateException if this is a PIC's state
     */
    public int ioapicId() { requireIoapic(); return buffer.getInt(IOAPIC_ID); }

    /**
     * Sets the IOAPIC's id.
     *
     * @param v the id
     * @return this struct
     * @throws IllegalStateException if this is a PIC's state
     */
    public Irqchip ioapicId(int v) { requireIoapic(); buffer.putInt(IOAPIC_ID, v); return this; }

    /**
     * {@return the IOAPIC's interrupt request bits: bit n set while pin n is asserted}
     *
     * @throws IllegalStateException if this is a PIC's state
     */
    public int ioapicIrr() { requireIoapic(); return buffer.getInt(IOAPIC_IRR); }

    /**
     * Sets the IOAPIC's interrupt request bits.
     *
     * @param v bit n for pin n
     * @return this struct
     * @throws IllegalStateException if this is a PIC's state
     */
    public Irqchip ioapicIrr(int v) { requireIoapic(); buffer.putInt(IOAPIC_IRR, v); return this; }

    /**
     * {@return the raw 64-bit redirection table entry of pin {@code pin}}
     *
     * @param pin 0 to {@link #IOAPIC_PINS} - 1
     * @throws IndexOutOfBoundsException for any other pin
     * @throws IllegalStateException if this is a PIC's state
     */
    public long redirectionBits(int pin) { requireIoapic(); return buffer.getLong(redirection0(pin)); }

    /**
     * Sets the raw 64-bit redirection table entry of pin {@code pin}.
     *
     * @param pin 0 to {@link #IOAPIC_PINS} - 1
     * @param bits the entry
     * @return this struct
     * @throws IndexOutOfBoundsException for any other pin
     * @throws IllegalStateException if this is a PIC's state
     */
    public Irqchip redirectionBits(int pin, long bits) {
        requireIoapic();
        buffer.putLong(redirection0(pin), bits);
        return this;
    }

    /**
     * {@return the redirection table entry of pin {@code pin}, decoded}
     *
     * @param pin 0 to {@link #IOAPIC_PINS} - 1
     * @throws IndexOutOfBoundsException for any other pin
     * @throws IllegalStateException if this is a PIC's state
     */
    public Redirection redirection(int pin) { return Redirection.of(redirectionBits(pin)); }

    /**
     * Sets the redirection table entry of pin {@code pin}; the entry's reserved bits are cleared.
     *
     * @param pin 0 to {@link #IOAPIC_PINS} - 1
     * @param entry the entry
     * @return this struct
     * @throws IndexOutOfBoundsException for any other pin
     * @throws IllegalStateException if this is a PIC's state
     */
    public Irqchip redirection(int pin, Redirection entry) { return redirectionBits(pin, entry.bits()); }

    private static int redirection0(int pin) {
        return REDIRTBL + REDIRECTION_SIZE * Objects.checkIndex(pin, IOAPIC_PINS);
    }

    private void requirePic() {
        if (chipId() == IOAPIC) {
            throw new IllegalStateException("this Irqchip holds the IOAPIC's state, not a PIC's; "
                    + "read PIC fields from new Irqchip(Irqchip.PIC_MASTER) or PIC_SLAVE");
        }
    }

    private void requireIoapic() {
        if (chipId() != IOAPIC) {
            throw new IllegalStateException("this Irqchip holds a PIC's state, not the IOAPIC's; "
                    + "read IOAPIC fields from new Irqchip(Irqchip.IOAPIC)");
        }
    }

    /**
     * One IOAPIC redirection table entry, decoded. The bit positions come from the kernel's
     * bit-field declaration, through the layout table.
     *
     * @param vector the interrupt vector, 16 to 254
     * @param deliveryMode the delivery mode: 0 fixed, 1 lowest priority, 2 SMI, 4 NMI, 5 INIT, 7 ExtINT
     * @param logicalDestination whether {@code destination} is a logical destination (else an APIC id)
     * @param deliveryPending whether an interrupt waits to be delivered (read only for the guest)
     * @param activeLow whether the pin is active low
     * @param remoteIrr for a level-triggered pin: whether an interrupt was accepted and awaits its EOI
     * @param levelTriggered whether the pin is level-triggered (else edge-triggered)
     * @param masked whether the pin is masked
     * @param destination the destination APIC id, or logical destination, 0 to 255
     */
    public record Redirection(int vector, int deliveryMode, boolean logicalDestination, boolean deliveryPending, boolean activeLow, boolean remoteIrr, boolean levelTriggered, boolean masked, int destination) {
        private static final long VECTOR = Layout.value("kvm_ioapic_state.redirtbl.fields.vector mask");
        private static final long DELIVERY_MODE = Layout.value("kvm_ioapic_state.redirtbl.fields.delivery_mode mask");
        private static final long DEST_MODE = Layout.value("kvm_ioapic_state.redirtbl.fields.dest_mode mask");
        private static final long DELIVERY_STATUS = Layout.value("kvm_ioapic_state.redirtbl.fields.delivery_status mask");
        private static final long POLARITY = Layout.value("kvm_ioapic_state.redirtbl.fields.polarity mask");
        private static final long REMOTE_IRR = Layout.value("kvm_ioapic_state.redirtbl.fields.remote_irr mask");
        private static final long TRIG_MODE = Layout.value("kvm_ioapic_state.redirtbl.fields.trig_mode mask");
        private static final long MASK = Layout.value("kvm_ioapic_state.redirtbl.fields.mask mask");
        private static final long DEST_ID = Layout.value("kvm_ioapic_state.redirtbl.fields.dest_id mask");

        /**
         * {@return the entry that {@code bits} encodes}
         *
         * @param bits a raw 64-bit entry, as {@link Irqchip#redirectionBits(int)} returns it
         */
        public static Redirection of(long bits) {
            return new Redirection((int) get(bits, VECTOR),
                    (int) get(bits, DELIVERY_MODE),
                    get(bits, DEST_MODE) != 0,
                    get(bits, DELIVERY_STATUS) != 0,
                    get(bits, POLARITY) != 0,
                    get(bits, REMOTE_IRR) != 0,
                    get(bits, TRIG_MODE) != 0,
                    get(bits, MASK) != 0,
                    (int) get(bits, DEST_ID));
        }

        /** {@return the entry as its raw 64 bits, reserved bits clear} */
        public long bits() {
            return put(vector, VECTOR)
                    | put(deliveryMode, DELIVERY_MODE)
                    | put(logicalDestination ? 1 : 0, DEST_MODE)
                    | put(deliveryPending ? 1 : 0, DELIVERY_STATUS)
                    | put(activeLow ? 1 : 0, POLARITY)
                    | put(remoteIrr ? 1 : 0, REMOTE_IRR)
                    | put(levelTriggered ? 1 : 0, TRIG_MODE)
                    | put(masked ? 1 : 0, MASK)
                    | put(destination, DEST_ID);
        }

        /**
         * {@return this entry with {@code masked} replaced}
         *
         * @param value whether the pin is masked
         */
        public Redirection withMasked(boolean value) {
            return new Redirection(vector, deliveryMode, logicalDestination, deliveryPending, activeLow,
                    remoteIrr, levelTriggered, value, destination);
        }

        /**
         * {@return this entry with {@code vector} replaced}
         *
         * @param value the interrupt vector
         */
        public Redirection withVector(int value) {
            return new Redirection(value, deliveryMode, logicalDestination, deliveryPending, activeLow,
                    remoteIrr, levelTriggered, masked, destination);
        }

        /**
         * {@return this entry with {@code destination} replaced}
         *
         * @param value the destination APIC id, or logical destination
         */
        public Redirection withDestination(int value) {
            return new Redirection(vector, deliveryMode, logicalDestination, deliveryPending, activeLow,
                    remoteIrr, levelTriggered, masked, value);
        }

        private static long get(long bits, long mask) {
            return (bits & mask) >>> Long.numberOfTrailingZeros(mask);
        }

        private static long put(int value, long mask) {
            return ((long) value << Long.numberOfTrailingZeros(mask)) & mask;
        }
    }
}
