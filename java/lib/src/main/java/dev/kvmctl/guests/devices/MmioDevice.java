package dev.kvmctl.guests.devices;

/**
 * A device model on a {@link dev.kvmctl.guests.Machine}'s MMIO bus: guest accesses to unbacked
 * guest-physical addresses in its range.
 *
 * <pre>{@code
 * machine.mmio().register(0xd0000000L, 0x1000, new MmioDevice() {
 *     public void write(long offset, int size, long value) { }
 *     public long read(long offset, int size) { return 0x1234; }
 * });
 * }</pre>
 */
public interface MmioDevice {
    /** The guest wrote {@code size} bytes at {@code offset} into the device's range. */
    void write(long offset, int size, long value);

    /** The guest reads {@code size} bytes at {@code offset} into the device's range. */
    long read(long offset, int size);
}
