package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.NIL;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@link OffsetIndex} alone: the block at an offset, and address-order neighbours. */
class OffsetIndexTest {
    /** A region of 64 units (the direct table) and one of 2^34 (the hash). */
    @ParameterizedTest
    @ValueSource(longs = {4096, 1L << 40})
    void findsBlocksOnlyAtTheirStarts(long size) {
        BlockStore s = new BlockStore(64);
        OffsetIndex x = new OffsetIndex(s, size, 6);
        int a = s.newId();
        int b = s.newId();
        x.add(0, a);
        x.add(1024, b);
        assertEquals(a, x.blockAt(0));
        assertEquals(b, x.blockAt(1024));
        assertEquals(NIL, x.blockAt(64), "no block starts there");
        assertEquals(NIL, x.blockAt(1025), "misaligned");
        assertEquals(NIL, x.blockAt(-64), "before the region");
        assertEquals(NIL, x.blockAt(size), "past the region");
        assertEquals(NIL, x.blockAt(Long.MIN_VALUE));
        assertEquals(2, x.count());
        x.remove(1024);
        assertEquals(NIL, x.blockAt(1024));
        assertEquals(1, x.count());
    }

    @Test
    void neighboursFollowLinkAfterAndUnlink() {
        BlockStore s = new BlockStore(64);
        OffsetIndex x = new OffsetIndex(s, 4096, 6);
        int a = s.newId();
        int b = s.newId();
        int c = s.newId();
        x.linkAlone(a);
        x.linkAfter(a, c);
        x.linkAfter(a, b);
        assertEquals(NIL, x.prev(a));
        assertEquals(b, x.next(a));
        assertEquals(a, x.prev(b));
        assertEquals(c, x.next(b));
        assertEquals(b, x.prev(c));
        assertEquals(NIL, x.next(c));
        x.unlink(b);
        assertEquals(c, x.next(a));
        assertEquals(a, x.prev(c));
        x.unlink(c);
        assertEquals(NIL, x.next(a));
    }
}
