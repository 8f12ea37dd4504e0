package dev.kvmctl.contexts;

import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.devices.DeviceState;
import java.util.List;

/**
 * The whole state of a VM a VMM built itself: the {@link HypervisorContext} (in-kernel irqchip
 * and PIT, clock, the VMM's registered {@link DeviceState} sections) and one {@link VcpuContext}
 * per vCPU. Captured hypervisor level first, then the vCPUs in creation order; restored in the same
 * order, the VM's devices before the vCPUs that use them. Guest memory is not in it: it stays
 * where it is (a switch), or a {@link Snapshot} carries it.
 *
 * <pre>{@code
 * List<DeviceState> devices = List.of();   // your device models' state sections
 * try (Vm own = kvm.createVm()) {
 *     own.mapMemory(0, ram);
 *     own.createVcpu(0);
 *     own.createVcpu(1);
 *     // ... set the vCPUs up, run them, stop them (complete an I/O exit first, see below), then:
 *     VmContext ctx = new VmContext(own);
 *     ctx.capture(own, devices);
 *     try (Vm fresh = kvm.createVm()) {    // a brand-new VM over the same memory
 *         fresh.mapMemory(0, ram);
 *         fresh.createVcpu(0);
 *         fresh.createVcpu(1);
 *         ctx.restore(fresh, devices);     // the guest goes on where it was, on every vCPU
 *     }
 * }
 * }</pre>
 *
 * <p>On hardware KVM an I/O exit is finished only by the next {@code KVM_RUN}: before capturing a
 * vCPU that stopped on one, run it once more with {@link Vcpu#immediateExit(boolean)} set
 * ({@code Machine.completePendingIo()} does this for a machine). Once made, a context allocates
 * only the VM's list of vCPUs ({@link Vm#vcpus()}) to capture or restore; it is not thread-safe.
 */
public final class VmContext {
    private final Kvm kvm;
    private final boolean irqchip;
    private final HypervisorContext hypervisor = new HypervisorContext();
    private final VcpuContext[] vcpus;

    /**
     * An empty context sized for VMs of {@code kvm} with {@code vcpus} vCPUs.
     *
     * @param kvm the open KVM the VMs come from
     * @param irqchip whether the VMs have an in-kernel irqchip (and so local APICs to save)
     * @param vcpus how many vCPUs the VMs have, at least 1
     * @throws IllegalArgumentException if {@code vcpus} is below 1
     * @throws IllegalStateException if {@code kvm} is closed
     */
    public VmContext(Kvm kvm, boolean irqchip, int vcpus) {
        if (vcpus < 1) {
            throw new IllegalArgumentException("a VM context holds at least one vCPU, got " + vcpus);
        }
        this.kvm = kvm;
        this.irqchip = irqchip;
        this.vcpus = new VcpuContext[vcpus];
        for (int i = 0; i < vcpus; i++) {
            this.vcpus[i] = new VcpuContext(kvm, irqchip);
        }
    }

    /**
     * An empty context sized for {@code vm}: its KVM, whether it has an irqchip, its vCPUs now.
     *
     * @param vm the VM, with its vCPUs created
     * @throws IllegalArgumentException if {@code vm} has no vCPU
     * @throws IllegalStateException if {@code vm} is closed
     */
    public VmContext(Vm vm) {
        this(vm.kvm(), vm.hasIrqchip(), vm.vcpus().size());
    }

    /**
     * Captures the VM's state and its devices' ({@link HypervisorContext#capture(Vm, List)}),
     * then every vCPU's, in {@link Vm#vcpus()} order.
     *
     * @param vm the VM: none of its vCPUs inside {@code KVM_RUN}, none with an unfinished I/O
     *     exit, as many vCPUs as this context holds
     * @param devices the VMM's device models whose state goes with the VM (empty for none)
     * @throws IllegalArgumentException if the VM has another number of vCPUs, or two devices one name
     * @throws IllegalStateException if {@code vm} or a vCPU is closed
     */
    public void capture(Vm vm, List<? extends DeviceState> devices) {
        List<Vcpu> list = checkVcpus(vm);
        hypervisor.capture(vm, devices);
        captureVcpus(list);
    }

    /**
     * Restores into a VM: the hypervisor level and the devices, then every vCPU, in
     * {@link Vm#vcpus()} order. The VM may be the one captured or a brand-new one over the same
     * memory, created with the same in-kernel devices and the same number of vCPUs; both are
     * checked, and the devices paired by name, before anything is written.
     *
     * @param vm the target VM, none of its vCPUs inside {@code KVM_RUN}
     * @param devices the VMM's device models, the same names as at capture
     * @throws IllegalArgumentException if the VM has another number of vCPUs
     * @throws ContextFormatException if its in-kernel devices or device models differ from the
     *     captured ones, or a device refuses its state
     * @throws dev.kvmctl.KvmException if KVM refuses a part of the state
     */
    public void restore(Vm vm, List<? extends DeviceState> devices) {
        restore(vm, devices, true);
    }

    /**
     * {@link #restore(Vm, List)}, leaving out the vCPUs' CPUID when {@code cpuid} is false: for
     * vCPUs that already hold this context's CPUID (a {@link dev.kvmctl.guests.VmPool} set it ahead
     * of time; setting it costs about 100 µs on a new vCPU here).
     */
    void restore(Vm vm, List<? extends DeviceState> devices, boolean cpuid) {
        List<Vcpu> list = checkVcpus(vm);
        hypervisor.checkFits(vm, devices);
        hypervisor.restore(vm, devices);
        restoreVcpus(list, cpuid);
    }

    List<Vcpu> checkVcpus(Vm vm) {
        List<Vcpu> list = vm.vcpus();
        if (list.size() != vcpus.length) {
            throw new IllegalArgumentException("the VM has " + list.size() + " vCPUs, the context " + vcpus.length
                    + ": create as many vCPUs as the context holds");
        }
        return list;
    }

    void captureVcpus(List<Vcpu> list) {
        for (int i = 0; i < vcpus.length; i++) {
            vcpus[i].capture(list.get(i));
        }
    }

    void restoreVcpus(List<Vcpu> list) {
        restoreVcpus(list, true);
    }

    private void restoreVcpus(List<Vcpu> list, boolean cpuid) {
        for (int i = 0; i < vcpus.length; i++) {
            if (cpuid) {
                vcpus[i].restore(list.get(i));
            } else {
                vcpus[i].restoreGuestWritable(list.get(i), true, false);
            }
        }
    }

    /** {@return the hypervisor level, this context's own (not a copy)} */
    public HypervisorContext hypervisor() {
        return hypervisor;
    }

    /**
     * {@return vCPU {@code index}'s context, this context's own (not a copy)}
     *
     * @param index from 0, in the VM's vCPU creation order
     * @throws IndexOutOfBoundsException if there is no such vCPU
     */
    public VcpuContext vcpu(int index) {
        return vcpus[index];
    }

    /** {@return how many vCPUs this context holds} */
    public int vcpuCount() {
        return vcpus.length;
    }

    /**
     * {@return a new array holding the whole context in kvmctl's versioned, checksummed format:
     * the hypervisor level and vCPU 0 as a one-vCPU {@link MachineContext} always stored them,
     * the other vCPUs in a section of their own}
     */
    public byte[] encode() {
        return sections().encode();
    }

    Sections sections() {
        return putInto(new Sections());
    }

    /** Puts this context's sections into {@code s} (a snapshot's metadata adds its own) and returns it. */
    Sections putInto(Sections s) {
        s.put(Sections.HYPERVISOR_CONTEXT, hypervisor.encode())
                .put(Sections.VCPU_CONTEXT, vcpus[0].encode());
        if (vcpus.length > 1) {
            Sections more = new Sections();
            for (int i = 1; i < vcpus.length; i++) {
                more.put(i, vcpus[i].encode());
            }
            s.put(Sections.VCPU_CONTEXTS, more.encode());
        }
        return s;
    }

    /**
     * Replaces this context with an encoded one; nothing changes unless all of it is intact and
     * fits this host and this context's number of vCPUs.
     *
     * @param encoded what {@link #encode()} returned, here or in another process
     * @throws ContextFormatException if it is damaged, does not fit this host, or holds another
     *     number of vCPUs
     */
    public void decode(byte[] encoded) {
        load(Sections.decode(encoded));
    }

    /** {@return how many vCPUs the decoded context {@code s} holds (checked, bounded by its size)} */
    static int vcpusIn(Sections s) {
        if (!s.has(Sections.VCPU_CONTEXTS)) {
            return 1;
        }
        Sections more = Sections.decode(s.get(Sections.VCPU_CONTEXTS));
        int n = 1;
        while (more.has(n)) {
            n++;
        }
        return n;
    }

    void load(Sections s) {
        int n = vcpusIn(s);
        if (n != vcpus.length) {
            throw new ContextFormatException("the context holds " + n + " vCPUs; this one is for VMs with " + vcpus.length);
        }
        Sections hv = Sections.decode(s.get(Sections.HYPERVISOR_CONTEXT));
        VcpuContext[] loaded = new VcpuContext[n];
        Sections more = n > 1 ? Sections.decode(s.get(Sections.VCPU_CONTEXTS)) : null;
        for (int i = 0; i < n; i++) {
            loaded[i] = new VcpuContext(kvm, irqchip);
            loaded[i].load(Sections.decode(i == 0 ? s.get(Sections.VCPU_CONTEXT) : more.get(i)));
        }
        hypervisor.load(hv); // checks everything before it changes anything
        for (int i = 0; i < n; i++) {
            vcpus[i].takeLoaded(loaded[i]);
        }
    }
}
