package dev.kvmctl.guests.devices;

/**
 * Counts the guest accesses no device claimed, reads and writes, for a bus's report and for a
 * machine's device state.
 *
 * <pre>{@code
 * PortBus bus = new PortBus();
 * int answer = bus.in(0x60, 1);          // nobody claims port 0x60: all ones
 * assert answer == -1 && bus.unclaimed().reads() == 1;
 * }</pre>
 *
 * <p>Not synchronized: a bus and its counters belong to the thread that runs the machine.
 */
public final class UnclaimedAccesses {
    private long reads;
    private long writes;

    void read() {
        reads++;
    }

    void write() {
        writes++;
    }

    /** {@return how many guest reads no device claimed (each answered with all ones)} */
    public long reads() {
        return reads;
    }

    /** {@return how many guest writes no device claimed (each dropped)} */
    public long writes() {
        return writes;
    }

    /**
     * Sets the counters, when a machine's device state is restored.
     *
     * @param readCount the value {@link #reads()} returns next
     * @param writeCount the value {@link #writes()} returns next
     */
    public void restore(long readCount, long writeCount) {
        this.reads = readCount;
        this.writes = writeCount;
    }
}
