package dev.kvmctl.guests.devices;

/**
 * A device model on the I/O-port bus of a {@link dev.kvmctl.guests.Machine}.
 *
 * <pre>{@code
 * machine.ports().register(0x510, 1, new PortDevice() {
 *     public void out(int port, int size, int value) { System.out.println("guest wrote " + value); }
 *     public int in(int port, int size) { return 42; }
 * });
 * }</pre>
 */
public interface PortDevice {
    /** The guest wrote {@code value} ({@code size} bytes) to {@code port}. */
    void out(int port, int size, int value);

    /** The guest reads {@code size} bytes from {@code port}; the low {@code size} bytes of the result are used. */
    int in(int port, int size);
}
