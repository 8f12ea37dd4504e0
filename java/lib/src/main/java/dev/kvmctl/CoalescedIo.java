package dev.kvmctl;

/**
 * One write KVM batched in a vCPU's coalesced MMIO ring instead of exiting
 * ({@link Vm#registerCoalescedIo}), as {@link Vcpu#nextCoalescedIo(CoalescedIo)} reads it. A holder
 * the caller reuses: reading the ring allocates nothing.
 */
public final class CoalescedIo {
    long address;
    int length;
    boolean pio;
    long data;

    /** An empty holder, filled by {@link Vcpu#nextCoalescedIo(CoalescedIo)}. */
    public CoalescedIo() {}

    /** {@return the guest-physical address, or the port for port I/O} */
    public long address() {
        return address;
    }

    /** {@return how many bytes the guest wrote, 1 to 8} */
    public int length() {
        return length;
    }

    /** {@return whether it was port I/O rather than MMIO} */
    public boolean pio() {
        return pio;
    }

    /** {@return the bytes written, little-endian, zero-extended beyond {@link #length()}} */
    public long data() {
        return data;
    }

    @Override
    public String toString() {
        return String.format("CoalescedIo[%s 0x%x len=%d data=0x%x]", pio ? "pio" : "mmio", address, length, data);
    }
}
