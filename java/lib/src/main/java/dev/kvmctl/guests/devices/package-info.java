/**
 * Device models and the buses that dispatch exits to them: a {@link dev.kvmctl.guests.devices.PortBus}
 * for port I/O and an {@link dev.kvmctl.guests.devices.MmioBus} for accesses to unbacked
 * guest-physical addresses. A {@link dev.kvmctl.guests.Machine} comes with a serial port
 * ({@link dev.kvmctl.guests.devices.Serial8250}) and a debug port
 * ({@link dev.kvmctl.guests.devices.DebugPort}) writing to a {@link dev.kvmctl.guests.devices.Console};
 * a device of your own implements {@link dev.kvmctl.guests.devices.PortDevice} or
 * {@link dev.kvmctl.guests.devices.MmioDevice} and goes on the machine's bus:
 *
 * <pre>{@code
 * machine.ports().register(0x60, 1, new PortDevice() {
 *     public void out(int port, int size, int value) { }
 *     public int in(int port, int size) { return 'K'; }      // what the guest's "in" reads
 * });
 * }</pre>
 *
 * <p>The buses can also serve an exit loop of your own: hand them {@link dev.kvmctl.VmExit}s'
 * ports, addresses and values. Accesses no device claims are counted
 * ({@link dev.kvmctl.guests.devices.UnclaimedAccesses}): writes are dropped, reads return all ones.
 */
package dev.kvmctl.guests.devices;
