package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import org.junit.jupiter.api.Test;

/**
 * Which pages a snapshot leaves out as holes: only pages that are zero in every byte. A page whose
 * one non-zero byte is its first or its last must be written, or a restore would lose it.
 */
class SnapshotZeroPageTest {
    @Test
    void aPageIsZeroOnlyIfEveryByteIs() {
        ByteBuffer page = ByteBuffer.allocateDirect(8192);
        assertTrue(SnapshotFormat.isZero(page, 0, 4096));
        assertTrue(SnapshotFormat.isZero(page, 4096, 4096));
        for (int at : new int[] {0, 1, 2047, 4095}) {
            page.put(4096 + at, (byte) 1);
            assertTrue(SnapshotFormat.isZero(page, 0, 4096), "the page before is still zero");
            assertFalse(SnapshotFormat.isZero(page, 4096, 4096), "a non-zero byte at " + at);
            page.put(4096 + at, (byte) 0);
        }
    }
}
