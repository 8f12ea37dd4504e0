package dev.kvmctl.contexts;

import dev.kvmctl.Vm;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.MachineCounters;
import dev.kvmctl.guests.devices.DeviceState;
import dev.kvmctl.state.ClockData;
import dev.kvmctl.state.Irqchip;
import dev.kvmctl.state.PitState;
import java.util.List;

/**
 * What belongs to a VM and its VMM rather than to a vCPU: the in-kernel interrupt controllers
 * (both PICs and the IOAPIC) and PIT when the VM has them, the KVM clock, the state of the device
 * models the VMM registers ({@link DeviceState} sections), and, for a {@link Machine}, kvmctl's
 * own accounting. A switch stores this level first, then the vCPUs'.
 *
 * <p>A VMM with its own {@link Vm} uses {@link #capture(Vm, List)} and {@link #restore(Vm, List)}
 * (or {@link VmContext}, which adds every vCPU); a {@link Machine} is captured with
 * {@link #capture(Machine)}.
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
    private DeviceSections deviceStates = new DeviceSections();

    /**
     * Reads the VM's and the device models' state: {@code KVM_GET_IRQCHIP} (three times) and
     * {@code KVM_GET_PIT2} when the VM has them, {@code KVM_GET_CLOCK}, the machine's registered
     * {@link DeviceState}s ({@link Machine#deviceStates()}) and its accounting.
     *
     * @param machine the machine: not running, and with a VM (not between
     *     {@code Machine.discardVm()} and {@code Machine.rebuildVm()})
     */
    public void capture(Machine machine) {
        capture(machine.requireVm(), machine.deviceStates());
        devices = machine.counters();
    }

    /**
     * Reads a VM's state and its device models': {@code KVM_GET_IRQCHIP} (three times) and
     * {@code KVM_GET_PIT2} when the VM has them, {@code KVM_GET_CLOCK}, then each device's
     * {@link DeviceState#save()}, in the order given.
     *
     * @param vm the VM, none of whose vCPUs is inside {@code KVM_RUN}
     * @param devices the VMM's device models whose state goes with the VM's (empty for none)
     * @throws IllegalArgumentException if two devices have one name, or a name is empty
     * @throws IllegalStateException if {@code vm} is closed
     */
    public void capture(Vm vm, List<? extends DeviceState> devices) {
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
        deviceStates.capture(devices);
    }

    /**
     * Writes the state into the machine's (possibly brand-new) VM and its device models. The VM
     * must have been created with the same devices: an irqchip context goes only into a VM with
     * an irqchip, and the machine must have registered the same {@link DeviceState}s.
     *
     * @param machine the machine: not running, and with a VM
     * @throws ContextFormatException if the VM's in-kernel devices or registered device states
     *     differ from the captured ones; nothing is written then (device-model state from another
     *     kvmctl version was refused already, when the context was decoded)
     */
    public void restore(Machine machine) {
        restore(machine.requireVm(), machine.deviceStates());
        machine.restoreCounters(devices);
    }

    /**
     * Writes the state into a (possibly brand-new) VM, then hands each device its saved state.
     * The VM must have been created with the same in-kernel devices, and {@code devices} must be
     * exactly the devices captured (by name); both are checked before anything is written.
     *
     * @param vm the VM, none of whose vCPUs is inside {@code KVM_RUN}
     * @param devices the VMM's device models, the same names as at capture
     * @throws ContextFormatException if the VM's in-kernel devices or the device models differ
     *     from the captured ones, a device's state is newer than it reads, or a device refuses
     *     its state
     * @throws IllegalStateException if {@code vm} is closed
     */
    public void restore(Vm vm, List<? extends DeviceState> devices) {
        checkFits(vm, devices);
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
        deviceStates.restore(devices);
    }

    /** Refuses a VM or device list this context cannot go into, before anything is written. */
    void checkFits(Vm vm, List<? extends DeviceState> devices) {
        if (vm.hasIrqchip() != hasIrqchip || vm.hasPit() != hasPit) {
            throw new ContextFormatException("the context was captured from a VM " + (hasIrqchip ? "with" : "without")
                    + " an in-kernel irqchip, the target VM is " + (vm.hasIrqchip() ? "with" : "without") + " one");
        }
        deviceStates.checkFits(devices);
    }

    /** Refuses a device list this context's device states do not pair up with. */
    void checkDevices(List<? extends DeviceState> devices) {
        deviceStates.checkFits(devices);
    }

    /** {@return the names of the device states captured, in the order the devices were given; a copy} */
    public List<String> deviceNames() {
        return deviceStates.names();
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
        if (!deviceStates.isEmpty()) {
            s.put(Sections.DEVICE_STATES, deviceStates.encode());
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
        DeviceSections ds = s.has(Sections.DEVICE_STATES) ? DeviceSections.decode(s.get(Sections.DEVICE_STATES)) : new DeviceSections();
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
        deviceStates = ds;
        hasIrqchip = irq;
        hasPit = p;
        picMaster.copyFrom(m);
        picSlave.copyFrom(sl);
        ioapic.copyFrom(io);
        pit.copyFrom(pt);
    }
}
