package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * {@link RingProducer} and {@link RingConsumer} over a plain direct buffer (no KVM): the ring
 * layout and index rules of {@code docs/shared-memory-abi.md}, and every kind of garbage a hostile
 * peer can write into a ring, each refused with a message and no read outside the region.
 */
class RingTest {
    private static final long REGION = 1 << 20;
    private final ByteBuffer area = ByteBuffer.allocateDirect(ShmAbi.RING_BYTES).order(ByteOrder.LITTLE_ENDIAN);
    private final RingProducer producer = new RingProducer(area, 0, ShmAbi.RING_ENTRIES, "ring A→B");
    private final RingConsumer consumer = new RingConsumer(area, 0, ShmAbi.RING_ENTRIES, REGION, "ring A→B");
    private final long[] entry = new long[2];

    @Test
    void entriesGoAroundTheRingInOrderAndTheLayoutIsTheDocumentedOne() {
        long sent = 0, got = 0;
        for (int round = 0; round < 5; round++) {
            int free = producer.free();
            assertEquals(ShmAbi.RING_ENTRIES, free, "everything released, the ring is empty");
            for (int i = 0; i < free; i++) {
                assertFalse(producer.put(64 * sent, (int) (sent % 1000) + 1), "the consumer does not sleep");
                sent++;
            }
            assertEquals(0, producer.free(), "full");
            assertEquals(sent, area.getLong(ShmAbi.RING_HEAD), "head at offset 0, free-running");
            int ready = consumer.ready();
            assertEquals(ShmAbi.RING_ENTRIES, ready);
            for (int i = 0; i < ready; i++) {
                consumer.peek(i, entry);
                assertArrayEquals(new long[] {64 * got, got % 1000 + 1}, entry);
                got++;
            }
            assertFalse(consumer.release(ready), "the producer does not sleep");
            assertEquals(got, area.getLong(ShmAbi.RING_TAIL), "tail at offset 64, free-running");
        }
        int slot = (int) (sent - 1) & (ShmAbi.RING_ENTRIES - 1);
        assertEquals(64 * (sent - 1), area.getLong(ShmAbi.RING_HEADER + slot * ShmAbi.RING_ENTRY_SIZE));
    }

    @Test
    void sleepingFlagsAskForTheDoorbell() {
        consumer.prepareSleep();
        assertEquals(1, area.getInt(ShmAbi.RING_CONS_WAITING));
        assertTrue(producer.put(0, 1), "the consumer sleeps: ring its doorbell");
        consumer.awake();
        assertFalse(producer.put(0, 1));
        producer.prepareSleep();
        assertEquals(1, area.getInt(ShmAbi.RING_PROD_WAITING));
        assertEquals(2, consumer.ready());
        assertTrue(consumer.release(2), "the producer sleeps: ring its doorbell");
    }

    @Test
    void aHeadTooFarAheadOrBehindBreaksTheRing() {
        for (long head : new long[] {ShmAbi.RING_ENTRIES + 1L, 1L << 40, -1L, Long.MIN_VALUE}) {
            RingConsumer c = new RingConsumer(area, 0, ShmAbi.RING_ENTRIES, REGION, "ring A→B");
            area.putLong(ShmAbi.RING_HEAD, head);
            IllegalStateException e = assertThrows(IllegalStateException.class, c::ready);
            assertTrue(e.getMessage().contains("ring A→B is broken: the producer's head"), e.getMessage());
            assertThrows(IllegalStateException.class, () -> c.peek(0, entry), "a broken ring stays broken");
            assertThrows(IllegalStateException.class, () -> c.release(1));
        }
        area.putLong(ShmAbi.RING_HEAD, ShmAbi.RING_ENTRIES);
        assertEquals(ShmAbi.RING_ENTRIES, consumer.ready(), "exactly the ring's size ahead is a full ring, not garbage");
    }

    @Test
    void anEntryOutsideTheRegionBreaksTheRing() {
        long[][] bad = {{REGION, 64}, {REGION - 64, 0xffffffffL}, {REGION - 64, 65}, {0, 0}, {-64, 64}, {Long.MIN_VALUE, 1}};
        for (long[] b : bad) {
            RingConsumer c = new RingConsumer(area, 0, ShmAbi.RING_ENTRIES, REGION, "ring A→B");
            area.putLong(ShmAbi.RING_HEADER, b[0]);
            area.putInt(ShmAbi.RING_HEADER + 8, (int) b[1]);
            area.putLong(ShmAbi.RING_HEAD, 1);
            assertEquals(1, c.ready());
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> c.peek(0, entry));
            assertTrue(e.getMessage().contains("not a block inside the region"), e.getMessage());
        }
        area.putLong(ShmAbi.RING_HEADER, REGION - 64);
        area.putInt(ShmAbi.RING_HEADER + 8, 64);
        consumer.ready();
        consumer.peek(0, entry);
        assertArrayEquals(new long[] {REGION - 64, 64}, entry, "the last 64 bytes of the region are fine");
    }

    @Test
    void aTailPastHeadOrBackwardsBreaksTheRing() {
        for (int i = 0; i < 10; i++) {
            producer.put(0, 1);
        }
        area.putLong(ShmAbi.RING_TAIL, 4);
        assertEquals(ShmAbi.RING_ENTRIES - 6, producer.free());
        assertEquals(6, producer.inFlight());
        area.putLong(ShmAbi.RING_TAIL, 3);
        IllegalStateException e = assertThrows(IllegalStateException.class, producer::free);
        assertTrue(e.getMessage().contains("ring A→B is broken: the consumer's tail 3 is outside [4, 10]"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> producer.put(0, 1), "a broken ring stays broken");
        for (long tail : new long[] {11, 1L << 40, -1L}) {
            RingProducer p = new RingProducer(area, 0, ShmAbi.RING_ENTRIES, "ring A→B");
            area.putLong(ShmAbi.RING_TAIL, tail);
            assertThrows(IllegalStateException.class, p::free, "tail " + tail + " with head 0");
        }
    }
}
