package dev.kvmctl.guests;

import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A VM made for one machine ahead of its use ({@link Machine#prepareVm()}): its slots over the
 * machine's RAM and shared regions, its irqchip if configured, its vCPUs in their reset state and the
 * machine's per-VM wiring. {@link Machine#installVm} makes it the machine's VM, once; until then
 * it is its holder's to close ({@link #close()}).
 */
public final class PreparedVm implements AutoCloseable {
    private final Machine machine;
    private final Vm vm;
    private final Vcpu[] vcpus;
    /** Which of its {@link VmPool} entry's CPUID tables the vCPU holds; 0 for none. */
    int cpuidGeneration;
    /** Set once it is installed, so that no VM becomes a machine's twice. */
    private final AtomicBoolean claimed = new AtomicBoolean();

    PreparedVm(Machine machine, Vm vm, Vcpu[] vcpus) {
        this.machine = machine;
        this.vm = vm;
        this.vcpus = vcpus;
    }

    /** {@return the machine it was prepared for} */
    public Machine machine() {
        return machine;
    }

    /** {@return the VM} */
    public Vm vm() {
        return vm;
    }

    /** {@return its vCPU 0} */
    Vcpu vcpu() {
        return vcpus[0];
    }

    /** {@return its vCPUs, by index (the array itself: the machine takes it over at install)} */
    Vcpu[] vcpus() {
        return vcpus;
    }

    /** Marks it installed; false if it was already. */
    boolean claim() {
        return claimed.compareAndSet(false, true);
    }

    /**
     * Closes the VM unless it was installed (then it is the machine's to close); idempotent and
     * safe from any thread.
     */
    @Override
    public void close() {
        if (claim()) {
            vm.close();
        }
    }
}
