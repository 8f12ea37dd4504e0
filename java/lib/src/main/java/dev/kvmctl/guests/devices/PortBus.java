package dev.kvmctl.guests.devices;

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
    private final PortDevice[] devices = new PortDevice[0x10000];
    private final UnclaimedAccesses unclaimed = new UnclaimedAccesses();

    /** Claims {@code count} ports from {@code first} for {@code device}; refuses ports already claimed. */
    public void register(int first, int count, PortDevice device) {
        if (first < 0 || count <= 0 || first + count > devices.length) {
            throw new IllegalArgumentException(String.format("port range 0x%x+%d is outside 0..0xffff", first, count));
        }
        for (int p = first; p < first + count; p++) {
            if (devices[p] != null) {
                throw new IllegalArgumentException(String.format("port 0x%x is already claimed by %s", p, devices[p]));
            }
        }
        for (int p = first; p < first + count; p++) {
            devices[p] = device;
        }
    }

    public void out(int port, int size, int value) {
        PortDevice d = devices[port & 0xffff];
        if (d == null) {
            unclaimed.write();
        } else {
            d.out(port, size, value);
        }
    }

    public int in(int port, int size) {
        PortDevice d = devices[port & 0xffff];
        if (d == null) {
            unclaimed.read();
            return -1;
        }
        return d.in(port, size);
    }

    /** The accesses no device claimed. */
    public UnclaimedAccesses unclaimed() {
        return unclaimed;
    }
}
