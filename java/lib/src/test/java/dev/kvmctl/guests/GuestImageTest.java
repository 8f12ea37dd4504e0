package dev.kvmctl.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/** ELF and flat image parsing: the good case and every malformation, without KVM. */
class GuestImageTest {
    /** A minimal ELF64 executable with one PT_LOAD of {@code code} at {@code paddr}. */
    static byte[] elf(long paddr, long entry, byte[] code, long memsz) {
        ByteBuffer b = ByteBuffer.allocate(64 + 56 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) 62).putInt(1).putLong(entry).putLong(64).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) 1)
                .putShort((short) 64).putShort((short) 0).putShort((short) 0);
        b.putInt(1).putInt(5).putLong(120).putLong(paddr).putLong(paddr).putLong(code.length).putLong(memsz).putLong(0x1000);
        b.put(code);
        return b.array();
    }

    @Test
    void parsesAnElfExecutable() {
        GuestImage img = GuestImage.parse("t", elf(0x100000, 0x100004, new byte[] {1, 2, 3, 4, 5, 6}, 0x2000), 0, 0);
        assertEquals(GuestImage.Format.ELF, img.format());
        assertEquals(0x100004, img.entry());
        assertEquals(1, img.segments().size());
        assertEquals(0x2000, img.segments().get(0).memorySize());
        img.checkFits(16 << 20, 0x1000, 0xa0000);
    }

    @Test
    void flatImagesUseTheGivenAddresses() {
        GuestImage img = GuestImage.parse("f", new byte[] {(byte) 0xf4}, 0x7c00, 0x7c00);
        assertEquals(GuestImage.Format.FLAT, img.format());
        assertEquals(0x7c00, img.lowestAddress());
    }

    @Test
    void malformedElfFilesAreRefusedWithTheirReason() {
        byte[] good = elf(0x100000, 0x100000, new byte[16], 16);
        assertMessage("truncated ELF header", java.util.Arrays.copyOf(good, 40));
        byte[] notX86 = good.clone();
        notX86[18] = 40; // EM_ARM
        assertMessage("not x86-64", notX86);
        byte[] thirtyTwo = good.clone();
        thirtyTwo[4] = 1;
        assertMessage("not a 64-bit", thirtyTwo);
        byte[] dyn = good.clone();
        dyn[16] = 3; // ET_DYN
        assertMessage("not an executable", dyn);
        byte[] headersOutside = good.clone();
        ByteBuffer.wrap(headersOutside).order(ByteOrder.LITTLE_ENDIAN).putLong(32, 1 << 20);
        assertMessage("lie outside", headersOutside);
        byte[] segmentOutside = good.clone();
        ByteBuffer.wrap(segmentOutside).order(ByteOrder.LITTLE_ENDIAN).putLong(64 + 32, 1 << 20); // p_filesz
        assertMessage("outside the", segmentOutside);
        byte[] shrunk = good.clone();
        ByteBuffer.wrap(shrunk).order(ByteOrder.LITTLE_ENDIAN).putLong(64 + 40, 1); // p_memsz < p_filesz
        assertMessage("smaller in memory", shrunk);
        byte[] overflow = good.clone();
        ByteBuffer.wrap(overflow).order(ByteOrder.LITTLE_ENDIAN).putLong(64 + 24, -16L); // p_paddr near 2^64
        assertMessage("overflows", overflow);
        assertThrows(GuestImageException.class, () -> GuestImage.parse("empty", new byte[0], 0, 0));
    }

    /** Found by ImageLoaderFuzzTest: the segments before the one outside RAM used to be written. */
    @Test
    void aLoadThatDoesNotFitInRamWritesNothing() {
        // sse-compute: code and constants at 1 MiB, then 4 MiB of data, which 2 MiB of RAM cannot hold
        GuestImage img = BuiltinImages.load("sse-compute");
        try (GuestMemory ram = GuestMemory.anonymous(2 << 20)) {
            ram.fill(0, ram.size(), (byte) 0xa5);
            assertThrows(GuestImageException.class, () -> img.loadInto(ram));
            byte[] after = ram.read(0, (int) ram.size());
            for (int i = 0; i < after.length; i++) {
                assertEquals((byte) 0xa5, after[i], "byte " + i);
            }
        }
    }

    @Test
    void imagesThatDoNotFitAreRefused() {
        GuestImage big = GuestImage.parse("big", elf(0x100000, 0x100000, new byte[16], 32 << 20), 0, 0);
        GuestImageException e = assertThrows(GuestImageException.class, () -> big.checkFits(16 << 20, 0x1000, 0xa0000));
        assertTrue(e.getMessage().contains("--mem"), e.getMessage());
        GuestImage low = GuestImage.parse("low", elf(0x2000, 0x2000, new byte[16], 16), 0, 0);
        assertThrows(GuestImageException.class, () -> low.checkFits(16 << 20, 0x1000, 0xa0000), "boot area");
        GuestImage badEntry = GuestImage.parse("entry", elf(0x100000, 0x900000, new byte[16], 16), 0, 0);
        assertThrows(GuestImageException.class, () -> badEntry.checkFits(16 << 20, 0x1000, 0xa0000), "entry outside");
    }

    private static void assertMessage(String fragment, byte[] image) {
        GuestImageException e = assertThrows(GuestImageException.class, () -> GuestImage.parse("bad.elf", image, 0, 0));
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("bad.elf"), "names the image");
    }
}
