package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The context container refuses anything damaged, and reads back exactly what it wrote. */
class SectionsTest {
    private static byte[] sample() {
        return new Sections().put(1, new byte[] {1, 2, 3}).put(7, new byte[100]).putInt(11, 42).encode();
    }

    @Test
    void roundTrip() {
        Sections s = Sections.decode(sample());
        assertArrayEquals(new byte[] {1, 2, 3}, s.get(1));
        assertEquals(42, s.getInt(11));
        assertArrayEquals(sample(), s.encode());
    }

    @Test
    void truncatedCorruptedAndForeignAreRefused() {
        byte[] good = sample();
        assertMessage("truncated", Arrays.copyOf(good, good.length - 1));
        assertMessage("truncated", Arrays.copyOf(good, 10));
        byte[] flipped = good.clone();
        flipped[30] ^= 1;
        assertMessage("checksum", flipped);
        byte[] version = good.clone();
        ByteBuffer.wrap(version).order(ByteOrder.LITTLE_ENDIAN).putInt(8, 2);
        assertMessage("version 2", version);
        byte[] magic = good.clone();
        magic[0] = 'X';
        assertMessage("not a kvmctl context", magic);
        assertMessage("bytes after", Arrays.copyOf(good, good.length + 3));
    }

    /** Counts and tags that pass the checksum (recomputed here) are still bounded by the bytes that hold them. */
    @Test
    void aHugeSectionCountOrARepeatedTagIsRefusedEvenWithAGoodChecksum() {
        byte[] huge = sample();
        ByteBuffer.wrap(huge).order(ByteOrder.LITTLE_ENDIAN).putInt(16, 0x7fffffff);
        assertMessage("claims 2147483647 sections", withChecksum(huge));
        byte[] negative = sample();
        ByteBuffer.wrap(negative).order(ByteOrder.LITTLE_ENDIAN).putInt(16, -1);
        assertMessage("claims -1 sections", withChecksum(negative));
        byte[] twice = new Sections().put(1, new byte[] {1}).put(2, new byte[] {2}).encode();
        ByteBuffer.wrap(twice).order(ByteOrder.LITTLE_ENDIAN).putInt(20 + 9, 1); // the second section's tag
        assertMessage("section 1 appears twice", withChecksum(twice));
    }

    private static byte[] withChecksum(byte[] bytes) {
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putInt(bytes.length - 4, (int) crc.getValue());
        return bytes;
    }

    @Property(tries = 2000)
    void everySingleByteCorruptionIsCaught(@ForAll @IntRange(min = 0, max = 10_000) int where, @ForAll @IntRange(min = 1, max = 255) int xor) {
        byte[] bytes = sample();
        bytes[where % bytes.length] ^= (byte) xor;
        assertThrows(ContextFormatException.class, () -> Sections.decode(bytes));
    }

    private static void assertMessage(String fragment, byte[] bytes) {
        ContextFormatException e = assertThrows(ContextFormatException.class, () -> Sections.decode(bytes));
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
    }
}
