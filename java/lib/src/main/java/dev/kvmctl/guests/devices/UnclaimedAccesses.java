package dev.kvmctl.guests.devices;

/**
 * Counts the guest accesses no device claimed, reads and writes, for a bus's report and for a
 * machine's device state.
 *
 * <pre>{@code
 * UnclaimedAccesses u = new UnclaimedAccesses();
 * u.read();
 * assert u.reads() == 1;
 * }</pre>
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

    public long reads() {
        return reads;
    }

    public long writes() {
        return writes;
    }

    /** Sets the counters, when a machine's device state is restored. */
    public void restore(long readCount, long writeCount) {
        this.reads = readCount;
        this.writes = writeCount;
    }
}
