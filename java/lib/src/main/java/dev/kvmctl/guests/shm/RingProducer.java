package dev.kvmctl.guests.shm;

import java.nio.ByteBuffer;

/**
 * The producer's side of one ring: its own head kept here (never read back from the ring), the
 * consumer's tail read and checked. A tail behind the last one seen or past head is impossible;
 * it makes {@link #free} throw, naming the ring, and the ring is then {@link #broken}.
 */
final class RingProducer {
    private final ByteBuffer area;
    private final int at;
    private final int mask;
    private final String name;
    private long head;
    private long tail;
    private String broken;

    /**
     * @param area the ring area, direct, little-endian
     * @param at the ring's offset in {@code area}
     * @param name "ring host→VM 1", for messages
     */
    RingProducer(ByteBuffer area, int at, int entries, String name) {
        this.area = area;
        this.at = at;
        this.mask = entries - 1;
        this.name = name;
    }

    /** Free entries now, after reading the consumer's tail. */
    int free() {
        check();
        long t = RingIndices.getAcquire(area, at + ShmAbi.RING_TAIL);
        if (Long.compareUnsigned(t - tail, head - tail) > 0) {
            broken = name + " is broken: the consumer's tail " + Long.toUnsignedString(t) + " is outside ["
                    + tail + ", " + head + "] (a tail only moves forward, up to head)";
            check();
        }
        tail = t;
        return (int) (mask + 1 - (head - t));
    }

    /** Entries the consumer had not released at the last {@link #free}. */
    int inFlight() {
        return (int) (head - tail);
    }

    /** The index of the next entry to put. */
    long head() {
        return head;
    }

    /** Writes the next entry and publishes it; returns whether the consumer sleeps (ring its doorbell). */
    boolean put(long offset, int length) {
        check();
        int e = at + ShmAbi.RING_HEADER + (int) (head & mask) * ShmAbi.RING_ENTRY_SIZE;
        area.putLong(e, offset);
        area.putInt(e + 8, length);
        area.putInt(e + 12, 0);
        head++;
        RingIndices.setRelease(area, at + ShmAbi.RING_HEAD, head);
        RingIndices.fullFence();
        return RingIndices.getFlag(area, at + ShmAbi.RING_CONS_WAITING) != 0;
    }

    /** Raises the producer's waiting flag and, after a full fence, reads free space again. */
    int prepareSleep() {
        RingIndices.setFlag(area, at + ShmAbi.RING_PROD_WAITING, 1);
        RingIndices.fullFence();
        return free();
    }

    void awake() {
        RingIndices.setFlag(area, at + ShmAbi.RING_PROD_WAITING, 0);
    }

    /** Why the ring is broken, or null. */
    String broken() {
        return broken;
    }

    private void check() {
        if (broken != null) {
            throw new IllegalStateException(broken + "; this endpoint no longer uses it");
        }
    }
}
