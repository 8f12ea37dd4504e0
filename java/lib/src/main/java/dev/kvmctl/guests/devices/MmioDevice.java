package dev.kvmctl.guests.devices;

/**
 * A device model on a {@link dev.kvmctl.guests.Machine}'s MMIO bus: guest accesses to unbacked
 * guest-physical addresses in its range. Called on the machine's thread, between two KVM_RUNs,
 * so the guest's vCPU waits while a call runs.
 *
 * <pre>{@code
 * machine.mmio().register(0xd0000000L, 0x1000, new MmioDevice() {
 *     public void write(long offset, int size, long value) { }
 *     public long read(long offset, int size) { return 0x1234; }
 * });
 * }</pre>
 */
public interface MmioDevice {
    /**
     * The guest wrote to the device.
     *
     * @param offset where, relative to the start of the device's range
     * @param size bytes written: 1, 2, 4 or 8
     * @param value the bytes, little-endian in the low {@code size} bytes
     */
    void write(long offset, int size, long value);

    /**
     * The guest reads from the device.
     *
     * @param offset where, relative to the start of the device's range
     * @param size bytes read: 1, 2, 4 or 8
     * @return the value; the guest sees its low {@code size} bytes
     */
    long read(long offset, int size);
}
