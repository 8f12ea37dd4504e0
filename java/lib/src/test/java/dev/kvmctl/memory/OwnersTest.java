package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@link Owners} alone: slots, per-owner counts, and the check that guards them. */
class OwnersTest {
    @Test
    void eachOwnerCountsItsOwnBlocks() {
        Owners o = new Owners();
        assertEquals(-1, o.find(5));
        int five = o.slotFor(5);
        int nine = o.slotFor(9);
        assertEquals(five, o.find(5));
        assertEquals(five, o.slotFor(5), "the same slot again");
        assertEquals(9, o.owner(nine));
        o.add(five, 64);
        o.add(five, 128);
        o.add(nine, 192);
        assertEquals(2, o.blocks(five));
        assertEquals(192, o.bytes(five));
        assertEquals(1, o.blocks(nine));
        assertEquals(Map.of(5, 192L, 9, 192L), o.bytesByOwner());
        o.check(new long[] {192, 192}, new int[] {2, 1});
        o.remove(five, 128);
        assertEquals(64, o.bytes(five));
        assertEquals(1, o.blocks(five));
        o.remove(five, 64);
        assertEquals(0, o.blocks(five));
        assertEquals(Map.of(9, 192L), o.bytesByOwner(), "owners with no blocks are left out");
        o.check(new long[] {0, 192}, new int[] {0, 1});
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> o.check(new long[] {0, 191}, new int[] {0, 1}));
        assertEquals("BlockAllocator invariant violated: owner 9 byte count disagrees", e.getMessage());
        o.clear(nine);
        assertEquals(0, o.blocks(nine));
        assertEquals(0, o.bytes(nine));
    }

    @Test
    void manyOwnersKeepTheirSlotsAsTheTableGrows() {
        Owners o = new Owners();
        for (int owner = 0; owner < 1000; owner++) {
            assertEquals(owner, o.slotFor(owner * 7919));
        }
        for (int owner = 999; owner >= 0; owner--) {
            assertEquals(owner, o.find(owner * 7919));
        }
        assertEquals(1000, o.slots());
        assertEquals(-1, o.find(1));
    }

    @Test
    void smallAndLargeOwnerIdsEachKeepTheirSlot() {
        Owners o = new Owners();
        int[] ids = {0, Owners.DIRECT_OWNERS - 1, Owners.DIRECT_OWNERS, 1000, Integer.MAX_VALUE, 7};
        for (int k = 0; k < ids.length; k++) {
            assertEquals(-1, o.find(ids[k]));
            assertEquals(k, o.slotFor(ids[k]));
        }
        for (int k = ids.length - 1; k >= 0; k--) {
            assertEquals(k, o.find(ids[k]), "owner " + ids[k]);
            assertEquals(ids[k], o.owner(k));
        }
        assertEquals(-1, o.find(1), "a small id never seen");
        assertEquals(-1, o.find(Owners.DIRECT_OWNERS + 1), "a large id never seen");
        o.check(new long[ids.length], new int[ids.length]);
    }
}
