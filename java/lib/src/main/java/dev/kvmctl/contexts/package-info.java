/**
 * The whole state of a running {@link dev.kvmctl.guests.Machine}, captured and restored in
 * Firecracker's order, and what is built on it: switching several machines on one host thread,
 * and snapshots to disk.
 *
 * <ul>
 *   <li>{@link dev.kvmctl.contexts.VcpuContext}: a vCPU's architectural state (registers, XSAVE,
 *       MSRs, LAPIC, events, CPUID, ...), one buffer per part, reused;</li>
 *   <li>{@link dev.kvmctl.contexts.HypervisorContext}: the VM's in-kernel devices and clock, and
 *       the machine's own device models;</li>
 *   <li>{@link dev.kvmctl.contexts.MachineContext}: both, in the order a switch stores them;</li>
 *   <li>{@link dev.kvmctl.contexts.Switcher} with {@link dev.kvmctl.contexts.ContextSwitchHook}:
 *       time slices of several machines on one thread, warm (same VM) or cold (a brand-new VM at
 *       every switch);</li>
 *   <li>{@link dev.kvmctl.contexts.Snapshot}: a stopped machine in a versioned, checksummed file,
 *       restored in a new process.</li>
 * </ul>
 *
 * <pre>{@code
 * MachineContext ctx = new MachineContext(machine);
 * ctx.capture(machine);       // the hypervisor level, then the vCPU
 * machine.rebuildVm();        // a brand-new KVM VM over the same RAM
 * ctx.restore(machine);       // the guest goes on where it was
 * }</pre>
 *
 * <p>Contexts work on a {@code Machine}; the state of devices a caller registered on a machine's
 * buses is not part of them.
 */
package dev.kvmctl.contexts;
