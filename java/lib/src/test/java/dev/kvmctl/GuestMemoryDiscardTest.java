package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** {@link GuestMemory#discard} gives pages back and leaves zeros, for anonymous and memfd memory alike. */
class GuestMemoryDiscardTest {
    @Test
    void discardedAnonymousPagesReadAsZero() {
        try (GuestMemory ram = GuestMemory.anonymous(4 * GuestMemory.PAGE_SIZE)) {
            checkDiscard(ram);
        }
    }

    @Test
    void discardedMemfdPagesReadAsZero() {
        try (GuestMemory ram = GuestMemory.memfd("discard-test", 4 * GuestMemory.PAGE_SIZE)) {
            checkDiscard(ram);
        }
    }

    /** Fills four pages, discards the middle two, and expects zeros there and the bytes elsewhere. */
    private static void checkDiscard(GuestMemory ram) {
        byte[] page = new byte[(int) GuestMemory.PAGE_SIZE];
        java.util.Arrays.fill(page, (byte) 0x5a);
        for (int i = 0; i < 4; i++) {
            ram.write(i * GuestMemory.PAGE_SIZE, page);
        }
        ram.discard(GuestMemory.PAGE_SIZE, 2 * GuestMemory.PAGE_SIZE);
        byte[] back = new byte[(int) GuestMemory.PAGE_SIZE];
        for (int i = 0; i < 4; i++) {
            ram.read(i * GuestMemory.PAGE_SIZE, back, 0, back.length);
            byte expected = (i == 1 || i == 2) ? 0 : (byte) 0x5a;
            for (byte b : back) {
                assertEquals(expected, b, "page " + i);
            }
        }
    }
}
