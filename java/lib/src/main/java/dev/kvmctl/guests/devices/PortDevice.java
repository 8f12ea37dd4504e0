package dev.kvmctl.guests.devices;

/**
 * A device model on the I/O-port bus of a {@link dev.kvmctl.guests.Machine}. Called on the
 * machine's thread, between two KVM_RUNs, so the guest's vCPU waits while a call runs.
 *
 * <pre>{@code
 * machine.ports().register(0x510, 1, new PortDevice() {
 *     public void out(int port, int size, int value) { System.out.println("guest wrote " + value); }
 *     public int in(int port, int size) { return 42; }
 * });
 * }</pre>
 */
public interface PortDevice {
    /**
     * The guest wrote to a port of the device.
     *
     * @param port which port (a device may claim several)
     * @param size bytes written: 1, 2 or 4
     * @param value the bytes, in the low {@code size} bytes
     */
    void out(int port, int size, int value);

    /**
     * The guest reads a port of the device.
     *
     * @param port which port
     * @param size bytes read: 1, 2 or 4
     * @return the value; the guest sees its low {@code size} bytes
     */
    int in(int port, int size);
}
