package dev.kvmctl.guests.devices;

import java.util.Arrays;

/**
 * Dispatches port I/O to devices in O(1): one slot per port. Ports nobody claimed are counted:
 * writes are ignored and reads return all ones, as on a PC.
 *
 * <pre>{@code
 * PortBus bus = new PortBus();
 * bus.register(0x3f8, 8, new Serial8250(console));
 * bus.out(0x3f8, 1, 'A');
 * }</pre>
 */
public final class PortBus {
    private static final int PORTS = 0x10000;

    /**
     * The claims by port, written on register: every port-I/O exit indexes it, with no search and
     * no boxing of the port number, and a new range is checked against it.
     */
    private final PortDevice[] devices = new PortDevice[PORTS];
    private final UnclaimedAccesses unclaimed = new UnclaimedAccesses();

    /**
     * Claims {@code count} ports from {@code first} for {@code device}. Registering is meant for
     * set-up, before the guest runs.
     *
     * @param first the first port, 0 to 0xffff
     * @param count how many consecutive ports, positive
     * @param device what accesses to them go to
     * @throws IllegalArgumentException for a range outside 0..0xffff, or ports already claimed
     *     (the message names their device)
     */
    public synchronized void register(int first, int count, PortDevice device) {
        if (first < 0 || count <= 0 || first > PORTS - count) {
            throw new IllegalArgumentException(String.format("port range 0x%x+%d is outside 0..0xffff", first, count));
        }
        for (int port = first; port < first + count; port++) {
            PortDevice owner = devices[port];
            if (owner != null) {
                int start = port; // name the claim by its first port, as it was registered
                while (start > 0 && devices[start - 1] == owner) {
                    start--;
                }
                throw new IllegalArgumentException(String.format("port 0x%x is already claimed by %s", start, owner));
            }
        }
        Arrays.fill(devices, first, first + count, device);
    }

    /**
     * Hands a guest port write to the device claiming {@code port}, or counts it as unclaimed.
     *
     * @param port the port, 0 to 0xffff
     * @param size bytes written: 1, 2 or 4
     * @param value the bytes, in the low {@code size} bytes
     */
    public void out(int port, int size, int value) {
        PortDevice d = devices[port & 0xffff];
        if (d == null) {
            unclaimed.write();
        } else {
            d.out(port, size, value);
        }
    }

    /**
     * Asks the device claiming {@code port} for a guest port read.
     *
     * @param port the port, 0 to 0xffff
     * @param size bytes read: 1, 2 or 4
     * @return the device's answer (the guest sees its low {@code size} bytes), or all ones when
     *     no device claims the port
     */
    public int in(int port, int size) {
        PortDevice d = devices[port & 0xffff];
        if (d == null) {
            unclaimed.read();
            return -1;
        }
        return d.in(port, size);
    }

    /** {@return the counters of accesses no device claimed, live} */
    public UnclaimedAccesses unclaimed() {
        return unclaimed;
    }
}
