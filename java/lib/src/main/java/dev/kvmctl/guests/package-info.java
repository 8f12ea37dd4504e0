/**
 * Guests on top of the kernel objects: images (ELF or flat), the boot set-up of
 * {@code docs/guest-contract.md}, and {@link dev.kvmctl.guests.Machine}, which owns a VM, its RAM
 * and its vCPUs (one, or several for an SMP guest) and runs the exit loop, handing port and MMIO
 * exits to device models ({@link dev.kvmctl.guests.devices}), whose state a
 * {@link dev.kvmctl.guests.devices.DeviceState} carries into contexts and snapshots. A
 * {@link dev.kvmctl.guests.Switchable} is what a switcher runs: a machine, or a VMM's own guest.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      Machine m = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long")).ring(3).build())) {
 *     RunResult r = m.run(Duration.ofSeconds(10));
 *     System.out.println(r.outcome() + ", status " + r.status());
 * }
 * }</pre>
 *
 * <p>Several machines run on threads of their own with {@link dev.kvmctl.guests.ThreadedRunner},
 * or on one thread with {@link dev.kvmctl.contexts.Switcher}; machines that share memory talk
 * through {@link dev.kvmctl.guests.shm}.
 */
package dev.kvmctl.guests;
