package dev.kvmctl.contexts;

import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.guests.Machine;
import java.util.List;

/**
 * A {@link Machine}'s whole context: a {@link VmContext} (the {@link HypervisorContext} with the
 * machine's registered device states and its accounting, and every vCPU's {@link VcpuContext}),
 * captured and restored through the machine, which completes a pending I/O exit first. Captured
 * hypervisor level first, then the vCPUs, as a switch stores them; restored in the same order,
 * the VM's devices before the vCPUs that use them.
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
    private final VmContext context;

    /**
     * An empty context sized for {@code machine}'s host and devices (its XSAVE size, its MSR list,
     * whether it has an in-kernel irqchip, its number of vCPUs).
     *
     * @param machine the machine whose contexts this one holds
     */
    public MachineContext(Machine machine) {
        this(machine.kvm(), machine.config().irqchip(), machine.config().cpus());
    }

    /** An empty context for machines on {@code kvm} with or without an in-kernel irqchip and {@code cpus} vCPUs. */
    MachineContext(Kvm kvm, boolean irqchip, int cpus) {
        this.context = new VmContext(kvm, irqchip, cpus);
    }

    /**
     * Completes a pending I/O exit, then captures the hypervisor level and every vCPU.
     *
     * @param machine the machine: not running (between slices, or stopped), and with a VM (not
     *     between {@code Machine.discardVm()} and {@code Machine.rebuildVm()})
     * @throws IllegalStateException if the machine is closed or has no VM ({@link Machine#requireVm()})
     */
    public void capture(Machine machine) {
        List<Vcpu> vcpus = context.checkVcpus(machine.requireVm());
        machine.completePendingIo();
        context.hypervisor().capture(machine);
        context.captureVcpus(vcpus);
    }

    /**
     * Restores into the machine's current VM and vCPUs: the hypervisor level, then the vCPUs.
     *
     * @param machine the machine: not running, and with a VM, which may be brand-new
     *     ({@code Machine.rebuildVm()})
     * @throws ContextFormatException if the VM's in-kernel devices or the machine's registered
     *     device states differ from the captured ones
     */
    public void restore(Machine machine) {
        List<Vcpu> vcpus = context.checkVcpus(machine.requireVm());
        context.hypervisor().restore(machine);
        context.restoreVcpus(vcpus);
    }

    /** {@return the hypervisor level, this context's own (not a copy)} */
    public HypervisorContext hypervisor() {
        return context.hypervisor();
    }

    /** {@return vCPU 0's level, this context's own (not a copy)} */
    public VcpuContext vcpu() {
        return context.vcpu(0);
    }

    /** {@return the whole context as a {@link VmContext}, this context's own (not a copy)} */
    public VmContext vmContext() {
        return context;
    }

    /** {@return a new array holding every level in one versioned, checksummed container ({@link VmContext#encode()})} */
    public byte[] encode() {
        return context.encode();
    }

    /**
     * Loads every level from an encoded context; nothing changes unless all of it is intact and
     * fits.
     *
     * @param encoded what {@link #encode()} returned, here or in another process
     * @throws ContextFormatException if any part is damaged or does not fit this host or machine
     */
    public void decode(byte[] encoded) {
        context.decode(encoded);
    }
}
