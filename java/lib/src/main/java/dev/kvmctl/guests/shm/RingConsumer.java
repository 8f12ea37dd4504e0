package dev.kvmctl.guests.shm;

import java.nio.ByteBuffer;

/**
 * The consumer's side of one ring: its own tail kept here, the producer's head and every entry
 * read once and checked (head at most the ring's size ahead of tail; an entry's block inside the
 * region, length 1 or more). A failed check makes the call throw, naming the ring, and the ring is
 * then {@link #broken}: nothing read from a peer can send this side outside the region or into an
 * endless loop.
 */
final class RingConsumer {
    private final ByteBuffer area;
    private final int at;
    private final int mask;
    private final long regionSize;
    private final String name;
    private long tail;
    private long head;
    private String broken;

    RingConsumer(ByteBuffer area, int at, int entries, long regionSize, String name) {
        this.area = area;
        this.at = at;
        this.mask = entries - 1;
        this.regionSize = regionSize;
        this.name = name;
    }

    /** Messages ready now, after reading the producer's head. */
    int ready() {
        check();
        long h = RingIndices.getAcquire(area, at + ShmAbi.RING_HEAD);
        if (Long.compareUnsigned(h - tail, mask + 1L) > 0) {
            broken = name + " is broken: the producer's head " + Long.toUnsignedString(h) + " is not within "
                    + (mask + 1) + " entries ahead of tail " + tail;
            check();
        }
        head = h;
        return (int) (h - tail);
    }

    /**
     * Reads entry tail + i ({@code i < ready()}) once: {@code out[0]} = block offset, {@code out[1]}
     * = length, both checked against the region.
     */
    void peek(int i, long[] out) {
        check();
        int e = at + ShmAbi.RING_HEADER + (int) ((tail + i) & mask) * ShmAbi.RING_ENTRY_SIZE;
        long offset = area.getLong(e);
        long length = Integer.toUnsignedLong(area.getInt(e + 8));
        if (length == 0 || offset < 0 || offset >= regionSize || length > regionSize - offset) {
            broken = name + " is broken: entry " + (tail + i) + " names " + length + " bytes at offset "
                    + Long.toUnsignedString(offset) + ", not a block inside the region of " + regionSize + " bytes";
            check();
        }
        out[0] = offset;
        out[1] = length;
    }

    /** Releases the {@code n} oldest entries; returns whether the producer sleeps (ring its doorbell). */
    boolean release(int n) {
        check();
        tail += n;
        RingIndices.setRelease(area, at + ShmAbi.RING_TAIL, tail);
        RingIndices.fullFence();
        return RingIndices.getFlag(area, at + ShmAbi.RING_PROD_WAITING) != 0;
    }

    /** Raises the consumer's waiting flag and, after a full fence, reads head again. */
    int prepareSleep() {
        RingIndices.setFlag(area, at + ShmAbi.RING_CONS_WAITING, 1);
        RingIndices.fullFence();
        return ready();
    }

    void awake() {
        RingIndices.setFlag(area, at + ShmAbi.RING_CONS_WAITING, 0);
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
