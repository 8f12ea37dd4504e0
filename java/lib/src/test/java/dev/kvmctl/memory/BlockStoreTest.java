package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.ADJ;
import static dev.kvmctl.memory.BlockStore.LEN;
import static dev.kvmctl.memory.BlockStore.NIL;
import static dev.kvmctl.memory.BlockStore.TAG;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** {@link BlockStore} alone: ids, recycling, the bound on ids and the packed fields. */
class BlockStoreTest {
    @Test
    void idsAreHandedOutInOrderAndRecycledLastInFirstOut() {
        BlockStore s = new BlockStore(100);
        assertEquals(0, s.newId());
        assertEquals(1, s.newId());
        assertEquals(2, s.newId());
        s.freeId(1);
        s.freeId(0);
        assertArrayEquals(new int[] {1, 0}, s.recycledIds());
        assertEquals(0, s.newId());
        assertEquals(1, s.newId());
        assertEquals(3, s.newId());
        assertEquals(4, s.idLimit());
    }

    @Test
    void theStoreNeverHoldsMoreThanItsMaximum() {
        BlockStore s = new BlockStore(40);
        for (int i = 0; i < 40; i++) {
            assertTrue(s.hasRoom());
            assertEquals(i, s.newId());
        }
        assertFalse(s.hasRoom());
        IllegalStateException e = assertThrows(IllegalStateException.class, s::newId);
        assertEquals("a BlockAllocator holds at most 40 blocks", e.getMessage());
        assertEquals(8L * BlockStore.STRIDE * 40 + 4 * 16, s.footprintBytes(), "grown to exactly 40 blocks, not 64");
        for (int i = 0; i < 40; i++) {
            s.freeId(i);
        }
        assertTrue(s.hasRoom());
        assertEquals(8L * BlockStore.STRIDE * 40 + 4 * 40, s.footprintBytes(), "recycled ids: also at most 40");
    }

    @Test
    void pairFieldsKeepBothHalvesIncludingNil() {
        BlockStore s = new BlockStore(4);
        int id = s.newId();
        s.setPair(id, ADJ, NIL, 7);
        assertEquals(NIL, s.high(id, ADJ));
        assertEquals(7, s.low(id, ADJ));
        s.setHigh(id, ADJ, 3);
        assertEquals(3, s.high(id, ADJ));
        assertEquals(7, s.low(id, ADJ));
        s.setLow(id, ADJ, NIL);
        assertEquals(3, s.high(id, ADJ));
        assertEquals(NIL, s.low(id, ADJ));
        s.set(id, LEN, 1L << 40);
        assertEquals(1L << 40, s.get(id, LEN));
        s.set(id, TAG, 0);
        assertFalse(s.isIdle(id));
        s.set(id, TAG, -1);
        assertTrue(s.isIdle(id));
    }
}
