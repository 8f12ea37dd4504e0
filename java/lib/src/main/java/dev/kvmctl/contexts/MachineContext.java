package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;

/**
 * Both levels of a machine's context: the {@link HypervisorContext} (VM and device models) and
 * the {@link VcpuContext}. Captured hypervisor level first, then the guest's, as a switch stores
 * them; restored in the same order, the VM's devices before the vCPU that uses them.
 *
 * <pre>{@code
 * try (Machine machine = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long")).build())) {
 *     MachineContext ctx = new MachineContext(machine);
 *     ctx.capture(machine);
 *     machine.rebuildVm();    // a brand-new KVM VM over the same memory
 *     ctx.restore(machine);   // the guest goes on where it was
 * }
 * }</pre>
 */
public final class MachineContext {
    private final HypervisorContext hypervisor = new HypervisorContext();
    private final VcpuContext vcpu;

    /**
     * An empty context sized for {@code machine}'s host and devices (its XSAVE size, its MSR list,
     * whether it has an in-kernel irqchip).
     *
     * @param machine the machine whose contexts this one holds
     */
    public MachineContext(Machine machine) {
        this.vcpu = new VcpuContext(machine.kvm(), machine.config().irqchip());
    }

    /**
     * Completes a pending I/O exit, then captures the hypervisor level and the vCPU.
     *
     * @param machine the machine: not running (between slices, or stopped), and with a VM (not
     *     between {@code Machine.discardVm()} and {@code Machine.rebuildVm()})
     * @throws IllegalStateException if the machine is closed or has no VM ({@link Machine#requireVm()})
     */
    public void capture(Machine machine) {
        machine.requireVm();
        machine.completePendingIo();
        hypervisor.capture(machine);
        vcpu.capture(machine.vcpu());
    }

    /**
     * Restores into the machine's current VM and vCPU: the hypervisor level, then the vCPU.
     *
     * @param machine the machine: not running, and with a VM, which may be brand-new
     *     ({@code Machine.rebuildVm()})
     * @throws ContextFormatException if the VM's in-kernel devices differ from the captured ones
     */
    public void restore(Machine machine) {
        restore(machine, true);
    }

    /**
     * {@link #restore(Machine)}, leaving out the vCPU's CPUID when {@code cpuid} is false: for a
     * vCPU that already holds this context's CPUID (a {@link dev.kvmctl.guests.VmPool} set it
     * ahead of time; setting it costs about 100 µs on a new vCPU here).
     */
    void restore(Machine machine, boolean cpuid) {
        machine.requireVm();
        hypervisor.restore(machine);
        if (cpuid) {
            vcpu.restore(machine.vcpu());
        } else {
            vcpu.restoreGuestWritable(machine.vcpu(), true);
        }
    }

    /** {@return the hypervisor level, this context's own (not a copy)} */
    public HypervisorContext hypervisor() {
        return hypervisor;
    }

    /** {@return the vCPU level, this context's own (not a copy)} */
    public VcpuContext vcpu() {
        return vcpu;
    }

    /** {@return a new array holding both levels in one versioned, checksummed container} */
    public byte[] encode() {
        return new Sections().put(Sections.HYPERVISOR_CONTEXT, hypervisor.encode())
                .put(Sections.VCPU_CONTEXT, vcpu.encode()).encode();
    }

    /**
     * Loads both levels from an encoded context, the vCPU's first.
     *
     * @param encoded what {@link #encode()} returned, here or in another process
     * @throws ContextFormatException if any part is damaged or does not fit this host; the
     *     containers are all checked first, but a hypervisor level that does not fit is found
     *     after the vCPU level was loaded
     */
    public void decode(byte[] encoded) {
        Sections s = Sections.decode(encoded);
        Sections hv = Sections.decode(s.get(Sections.HYPERVISOR_CONTEXT));
        Sections v = Sections.decode(s.get(Sections.VCPU_CONTEXT));
        vcpu.load(v);
        hypervisor.load(hv);
    }
}
