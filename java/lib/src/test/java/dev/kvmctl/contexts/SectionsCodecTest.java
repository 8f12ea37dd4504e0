package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.state.MpState;
import dev.kvmctl.state.Msrs;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * The context container's byte layout, written out here by hand as the format says (magic
 * "KVMCTX01", version 1, total size, section count, then tag, length and bytes per section, then a
 * CRC32C of everything before it), so that both directions are checked against the format and not
 * against each other: {@link Sections#encode} must produce exactly these bytes, and
 * {@link Sections#decode} must take containers that are well-formed at every edge (empty
 * sections, no sections, a section ending at the checksum) and refuse, with the numbers, ones whose
 * checksum is right but whose structure is not.
 */
class SectionsCodecTest {
    /** One section, as the format lays it out. */
    record Raw(int tag, int length, byte[] bytes) {
        static Raw of(int tag, byte... bytes) {
            return new Raw(tag, bytes.length, bytes);
        }
    }

    /** A container with the given header fields and sections, checksummed over whatever it holds. */
    static byte[] container(long magic, int version, Integer total, int count, Raw... sections) {
        return container(magic, version, total, count, new byte[0], sections);
    }

    /** The same, with {@code tail} (not a section) between the last section and the checksum. */
    static byte[] container(long magic, int version, Integer total, int count, byte[] tail, Raw... sections) {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (Raw r : sections) {
            body.writeBytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(r.tag()).putInt(r.length()).array());
            body.writeBytes(r.bytes());
        }
        body.writeBytes(tail);
        int size = 8 + 4 + 4 + 4 + body.size() + 4;
        ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(magic).putInt(version).putInt(total == null ? size : total).putInt(count).put(body.toByteArray());
        CRC32C crc = new CRC32C();
        crc.update(out.array(), 0, size - 4);
        out.putInt((int) crc.getValue());
        return out.array();
    }

    static byte[] container(Raw... sections) {
        return container(0x3130585443_4d564bL, 1, null, sections.length, sections);
    }

    static void refused(byte[] bytes, String message) {
        ContextFormatException e = assertThrows(ContextFormatException.class, () -> Sections.decode(bytes));
        assertEquals(message, e.getMessage());
    }

    @Test
    void theMagicSpellsKvmctx01() {
        byte[] magic = new byte[8];
        ByteBuffer.wrap(magic).order(ByteOrder.LITTLE_ENDIAN).putLong(Sections.MAGIC);
        assertEquals("KVMCTX01", new String(magic, java.nio.charset.StandardCharsets.US_ASCII));
        assertEquals(1, Sections.VERSION);
    }

    @Test
    void encodeWritesExactlyTheDocumentedLayout() {
        byte[] expected = container(Raw.of(7, (byte) 1, (byte) 2, (byte) 3), Raw.of(3), Raw.of(11, (byte) 42, (byte) 0, (byte) 0, (byte) 0));
        Sections s = new Sections().put(7, new byte[] {1, 2, 3}).put(3, new byte[0]).putInt(11, 42);
        assertArrayEquals(expected, s.encode());
        assertArrayEquals(container(), new Sections().encode());
    }

    @Test
    void anEmptyContainerIsTwentyFourBytesAndDecodes() {
        byte[] empty = container();
        assertEquals(24, empty.length);
        Sections s = Sections.decode(empty);
        assertFalse(s.has(0));
        assertArrayEquals(empty, s.encode());
        refused(java.util.Arrays.copyOf(empty, 23), "truncated context: 23 bytes is shorter than its header");
    }

    @Test
    void emptySectionsAndASectionEndingAtTheChecksumDecode() {
        // The last section is empty: its 8-byte header is followed directly by the checksum.
        Sections s = Sections.decode(container(Raw.of(1, (byte) 9), Raw.of(2)));
        assertArrayEquals(new byte[] {9}, s.get(1));
        assertArrayEquals(new byte[0], s.get(2));
        assertTrue(s.has(2));
        // A one-section container whose bytes run right up to the checksum.
        assertArrayEquals(new byte[] {4, 5, 6, 7}, Sections.decode(container(Raw.of(5, (byte) 4, (byte) 5, (byte) 6, (byte) 7))).get(5));
    }

    @Test
    void structuralDamageBehindAGoodChecksumIsRefusedWithItsNumbers() {
        // A section claiming two bytes more than lie before the checksum.
        refused(container(new Raw(4, 5, new byte[] {1, 2, 3})), "truncated context: section 4 claims 5 bytes, 3 remain");
        refused(container(new Raw(4, -1, new byte[] {1, 2, 3})), "truncated context: section 4 claims -1 bytes, 3 remain");
        // A count larger than the sections present: the second header is missing.
        refused(container(0x3130585443_4d564bL, 1, null, 2, Raw.of(1, (byte) 1)), "corrupted context: it claims 2 sections, its 33 bytes hold at most 1");
        // A count smaller: the rest are stray bytes.
        refused(container(0x3130585443_4d564bL, 1, null, 1, Raw.of(1, (byte) 1), Raw.of(2, (byte) 2, (byte) 2)),
                "corrupted context: 10 stray bytes after the sections");
        // A partial section header (fewer than 8 bytes before the checksum).
        refused(container(0x3130585443_4d564bL, 1, null, 2, new byte[7], Raw.of(1, (byte) 1)),
                "truncated context: section 1 of 2 is cut off");
    }

    @Test
    void headerDamageIsRefusedWithItsNumbers() {
        byte[] good = container(Raw.of(1, (byte) 1));
        refused(container(0x3130585443_4d564cL, 1, null, 1, Raw.of(1, (byte) 1)), "not a kvmctl context (wrong magic number)");
        refused(container(0x3130585443_4d564bL, 2, null, 1, Raw.of(1, (byte) 1)), "context format version 2; this kvmctl reads version 1");
        refused(container(0x3130585443_4d564bL, 1, good.length + 1, 1, Raw.of(1, (byte) 1)),
                "truncated context: " + good.length + " of " + (good.length + 1) + " bytes");
        refused(container(0x3130585443_4d564bL, 1, good.length - 3, 1, Raw.of(1, (byte) 1)), "corrupted context: 3 bytes after its end");
        byte[] flipped = good.clone();
        flipped[good.length - 1] ^= 1; // the checksum itself
        refused(flipped, "corrupted context: checksum mismatch");
    }

    @Test
    void putAndGetCopyTheBytesAndChain() {
        Sections s = new Sections();
        byte[] data = {1, 2, 3};
        assertSame(s, s.put(1, data));
        assertSame(s, s.putInt(2, 7));
        data[0] = 99;
        assertArrayEquals(new byte[] {1, 2, 3}, s.get(1), "put copies");
        byte[] got = s.get(1);
        got[1] = 99;
        assertArrayEquals(new byte[] {1, 2, 3}, s.get(1), "get copies");
        assertNotSame(s.get(1), s.get(1));
        assertTrue(s.has(1) && s.has(2));
        assertFalse(s.has(3));
        ContextFormatException missing = assertThrows(ContextFormatException.class, () -> s.get(3));
        assertEquals("the context has no section 3", missing.getMessage());
        ContextFormatException notInt = assertThrows(ContextFormatException.class, () -> s.getInt(1));
        assertEquals("section 1 should hold 4 bytes, holds 3", notInt.getMessage());
        assertEquals(-5, new Sections().putInt(9, -5).getInt(9));
    }

    @Test
    void structsGoInAndComeOutWhole() {
        MpState running = new MpState().state(MpState.HALTED);
        byte[] raw = running.toByteArray();
        Sections s = new Sections();
        assertSame(s, s.put(Sections.MP_STATE, running));
        assertArrayEquals(raw, s.get(Sections.MP_STATE));
        MpState back = new MpState();
        Sections.decode(s.encode()).get(Sections.MP_STATE, back);
        assertEquals(MpState.HALTED, back.state());

        // A section of another size: a context from another kernel or CPU.
        Sections wrongSize = new Sections().put(Sections.MP_STATE, new byte[raw.length + 4]);
        ContextFormatException e = assertThrows(ContextFormatException.class, () -> wrongSize.get(Sections.MP_STATE, new MpState()));
        assertEquals("section 1 holds " + (raw.length + 4) + " bytes but this host's MpState has " + raw.length
                + ": the context comes from a different kernel or CPU", e.getMessage());

        // The right size, but a count the struct cannot hold: refused as malformed, not loaded.
        Msrs msrs = Msrs.of(0x10);
        byte[] bad = msrs.toByteArray();
        ByteBuffer.wrap(bad).order(ByteOrder.LITTLE_ENDIAN).putInt(0, 200);
        Sections counted = new Sections().put(Sections.MSRS, bad);
        Msrs into = Msrs.of(0x10);
        ContextFormatException c = assertThrows(ContextFormatException.class, () -> counted.get(Sections.MSRS, into));
        assertTrue(c.getMessage().startsWith("section 8 is not a valid Msrs: "), c.getMessage());
    }
}
