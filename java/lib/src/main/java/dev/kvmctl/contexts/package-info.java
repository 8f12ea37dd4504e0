/**
 * The whole state of a running VM, captured and restored in Firecracker's order, and what is
 * built on it: switching several guests on one host thread, and snapshots to disk. It works on
 * the kernel objects of any VMM ({@link dev.kvmctl.Vm} and its vCPUs, its RAM, the
 * {@link dev.kvmctl.guests.devices.DeviceState}s of its device models); kvmctl's
 * {@link dev.kvmctl.guests.Machine} is one user of it.
 *
 * <ul>
 *   <li>{@link dev.kvmctl.contexts.VcpuContext}: a vCPU's architectural state (registers, XSAVE,
 *       MSRs, LAPIC, events, CPUID, ...), one buffer per part, reused;</li>
 *   <li>{@link dev.kvmctl.contexts.HypervisorContext}: the VM's in-kernel devices and clock, and
 *       the device models' state sections (for a machine, its own accounting too);</li>
 *   <li>{@link dev.kvmctl.contexts.VmContext}: both, for every vCPU of a VM, in the order a
 *       switch stores them; {@link dev.kvmctl.contexts.MachineContext} the same through a
 *       machine;</li>
 *   <li>{@link dev.kvmctl.contexts.Switcher} with {@link dev.kvmctl.contexts.ContextSwitchHook}:
 *       time slices of several {@link dev.kvmctl.guests.Switchable} guests on one thread, warm
 *       (same VM) or cold (a brand-new VM at every switch);</li>
 *   <li>{@link dev.kvmctl.contexts.Snapshot}: a stopped machine, or a VMM's own VM, in a
 *       versioned, checksummed file, restored in a new process or a fresh VM.</li>
 * </ul>
 *
 * <pre>{@code
 * VmContext ctx = new VmContext(vm);
 * ctx.capture(vm, List.of());   // the VM level and devices, then every vCPU
 * // ... a brand-new VM over the same RAM, with as many vCPUs:
 * ctx.restore(vm, List.of());   // the guest goes on where it was
 * }</pre>
 */
package dev.kvmctl.contexts;
