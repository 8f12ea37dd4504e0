package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;

/**
 * Both levels of a machine's context: the {@link HypervisorContext} (VM and device models) and
 * the {@link VcpuContext}. Captured hypervisor level first, then the guest's, as a switch stores
 * them; restored in the same order, the VM's devices before the vCPU that uses them.
 *
 * <pre>{@code
 * MachineContext ctx = new MachineContext(machine);
 * ctx.capture(machine);
 * machine.rebuildVm();        // a brand-new KVM VM over the same memory
 * ctx.restore(machine);       // the guest goes on where it was
 * }</pre>
 */
public final class MachineContext {
    private final HypervisorContext hypervisor = new HypervisorContext();
    private final VcpuContext vcpu;

    public MachineContext(Machine machine) {
        this.vcpu = new VcpuContext(machine.kvm(), machine.config().irqchip());
    }

    /** Completes a pending I/O exit, then captures the hypervisor level and the vCPU. */
    public void capture(Machine machine) {
        machine.completePendingIo();
        hypervisor.capture(machine);
        vcpu.capture(machine.vcpu());
    }

    /** Restores into the machine's current VM and vCPU. */
    public void restore(Machine machine) {
        hypervisor.restore(machine);
        vcpu.restore(machine.vcpu());
    }

    public HypervisorContext hypervisor() {
        return hypervisor;
    }

    public VcpuContext vcpu() {
        return vcpu;
    }

    /** Both levels in one versioned, checksummed container. */
    public byte[] encode() {
        return new Sections().put(Sections.HYPERVISOR_CONTEXT, hypervisor.encode())
                .put(Sections.VCPU_CONTEXT, vcpu.encode()).encode();
    }

    /** Loads both levels, refusing the whole context if any part is damaged or does not fit. */
    public void decode(byte[] encoded) {
        Sections s = Sections.decode(encoded);
        Sections hv = Sections.decode(s.get(Sections.HYPERVISOR_CONTEXT));
        Sections v = Sections.decode(s.get(Sections.VCPU_CONTEXT));
        vcpu.load(v);
        hypervisor.load(hv);
    }
}
