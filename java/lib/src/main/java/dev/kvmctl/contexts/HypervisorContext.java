package dev.kvmctl.contexts;

import dev.kvmctl.Vm;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.MachineCounters;
import dev.kvmctl.state.ClockData;
import dev.kvmctl.state.Irqchip;
import dev.kvmctl.state.PitState;

/**
 * What belongs to a VM and its VMM rather than to a vCPU: the in-kernel interrupt controllers
 * (both PICs and the IOAPIC) and PIT when the VM has them, the KVM clock, and the state of
 * kvmctl's own device models. A switch stores this level first, then the vCPU's.
 *
 * <pre>{@code
 * try (Machine machine = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long")).build())) {
 *     HypervisorContext hv = new HypervisorContext();
 *     hv.capture(machine);
 *     machine.rebuildVm();    // a brand-new VM with the same devices
 *     hv.restore(machine);    // then the vCPU's level: MachineContext does both, in order
 * }
 * }</pre>
 *
 * <p>{@link MachineContext} holds this level with the vCPU's and keeps their order. A context is
 * reused from capture to capture and allocates nothing; it is not thread-safe.
 */
public final class HypervisorContext {
    private final Irqchip picMaster = new Irqchip(Irqchip.PIC_MASTER);
    private final Irqchip picSlave = new Irqchip(Irqchip.PIC_SLAVE);
    private final Irqchip ioapic = new Irqchip(Irqchip.IOAPIC);
    private final PitState pit = new PitState();
    private final ClockData clock = new ClockData();
    private boolean hasIrqchip;
    private boolean hasPit;
    private MachineCounters devices = MachineCounters.zero();

    /**
     * Reads the VM's and the device models' state: {@code KVM_GET_IRQCHIP} (three times) and
     * {@code KVM_GET_PIT2} when the VM has them, then {@code KVM_GET_CLOCK}.
     *
     * @param machine the machine: not running, and with a VM (not between
     *     {@code Machine.discardVm()} and {@code Machine.rebuildVm()})
     */
    public void capture(Machine machine) {
        Vm vm = machine.requireVm();
        hasIrqchip = vm.hasIrqchip();
        hasPit = vm.hasPit();
        if (hasIrqchip) {
            vm.getIrqchip(picMaster);
            vm.getIrqchip(picSlave);
            vm.getIrqchip(ioapic);
        }
        if (hasPit) {
            vm.getPit(pit);
        }
        vm.getClock(clock);
        devices = machine.counters();
    }

    /**
     * Writes the state into the machine's (possibly brand-new) VM. The VM must have been created
     * with the same devices: an irqchip context goes only into a VM with an irqchip.
     *
     * @param machine the machine: not running, and with a VM
     * @throws ContextFormatException if the VM's in-kernel devices differ from the captured ones;
     *     nothing is written then (device-model state from another kvmctl version was refused
     *     already, when the context was decoded)
     */
    public void restore(Machine machine) {
        Vm vm = machine.requireVm();
        if (vm.hasIrqchip() != hasIrqchip || vm.hasPit() != hasPit) {
            throw new ContextFormatException("the context was captured from a VM " + (hasIrqchip ? "with" : "without")
                    + " an in-kernel irqchip, the target VM is " + (vm.hasIrqchip() ? "with" : "without") + " one");
        }
        if (hasIrqchip) {
            vm.setIrqchip(picMaster);
            vm.setIrqchip(picSlave);
            vm.setIrqchip(ioapic);
        }
        if (hasPit) {
            vm.setPit(pit);
        }
        // KVM_SET_CLOCK takes only the time; the flags KVM_GET_CLOCK reports describe the host.
        int flags = clock.flags();
        vm.setClock(clock.flags(0));
        clock.flags(flags);
        machine.restoreCounters(devices);
    }

    /** {@return the guest-visible kvmclock time at capture, in nanoseconds} */
    public long clockNanos() {
        return clock.clock();
    }

    /**
     * {@return a new array holding this level in kvmctl's versioned, checksummed format
     * ({@link Sections})}
     */
    public byte[] encode() {
        return sections().encode();
    }

    Sections sections() {
        Sections s = new Sections().put(Sections.CLOCK, clock).put(Sections.DEVICES, DeviceStateCodec.encode(devices));
        if (hasIrqchip) {
            s.put(Sections.PIC_MASTER, picMaster).put(Sections.PIC_SLAVE, picSlave).put(Sections.IOAPIC, ioapic);
        }
        if (hasPit) {
            s.put(Sections.PIT, pit);
        }
        return s;
    }

    /**
     * Replaces this context with an encoded one; nothing changes if any part is damaged or does
     * not fit this host.
     *
     * @param encoded what {@link #encode()} returned, here or in another process
     * @throws ContextFormatException if it is damaged, or a part has another size than on this host
     */
    public void decode(byte[] encoded) {
        load(Sections.decode(encoded));
    }

    void load(Sections s) {
        ClockData c = new ClockData();
        s.get(Sections.CLOCK, c);
        MachineCounters d = DeviceStateCodec.decode(s.get(Sections.DEVICES));
        boolean irq = s.has(Sections.PIC_MASTER);
        boolean p = s.has(Sections.PIT);
        Irqchip m = new Irqchip(Irqchip.PIC_MASTER), sl = new Irqchip(Irqchip.PIC_SLAVE), io = new Irqchip(Irqchip.IOAPIC);
        PitState pt = new PitState();
        if (irq) {
            s.get(Sections.PIC_MASTER, m);
            s.get(Sections.PIC_SLAVE, sl);
            s.get(Sections.IOAPIC, io);
        }
        if (p) {
            s.get(Sections.PIT, pt);
        }
        clock.copyFrom(c);
        devices = d;
        hasIrqchip = irq;
        hasPit = p;
        picMaster.copyFrom(m);
        picSlave.copyFrom(sl);
        ioapic.copyFrom(io);
        pit.copyFrom(pt);
    }
}
