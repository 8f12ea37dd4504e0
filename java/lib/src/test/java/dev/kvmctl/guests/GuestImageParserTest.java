package dev.kvmctl.guests;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.GuestMemory;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The image parser at the edges of every rule (no KVM): what lies exactly on a limit is accepted,
 * one byte past it is refused, and each refusal says which rule and which numbers. Images are built
 * here field by field, so every expectation comes from the ELF64 layout and the image contract
 * (docs/guest-contract.md), not from the parser.
 */
class GuestImageParserTest {
    private static final int EHDR = 64, PHDR = 56;

    /** One program header: p_type, p_offset, p_paddr, p_filesz, p_memsz. */
    record Ph(int type, long offset, long paddr, long filesz, long memsz) {
        static Ph load(long offset, long paddr, long filesz, long memsz) {
            return new Ph(1, offset, paddr, filesz, memsz);
        }
    }

    /**
     * An ELF64 executable of {@code size} bytes (byte i = i * 7 + 1, so every file byte is known),
     * with the program header table at {@code phoff}, {@code phnum} entries of {@code phentsize}
     * bytes (the given ones written, where they lie in the file) and entry {@code entry}.
     */
    static byte[] elf(int size, long phoff, int phentsize, int phnum, long entry, Ph... phs) {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 7 + 1);
        }
        ByteBuffer o = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        o.put(0, new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0});
        o.putShort(16, (short) 2).putShort(18, (short) 62).putInt(20, 1).putLong(24, entry).putLong(32, phoff)
                .putLong(40, 0).putInt(48, 0).putShort(52, (short) EHDR).putShort(54, (short) phentsize)
                .putShort(56, (short) phnum).putShort(58, (short) 64).putShort(60, (short) 0).putShort(62, (short) 0);
        for (int i = 0; i < phs.length; i++) {
            long at = phoff + (long) i * phentsize;
            if (at < 0 || at + PHDR > size) {
                continue; // a table outside the file: nothing to write
            }
            Ph p = phs[i];
            int a = (int) at;
            o.putInt(a, p.type()).putInt(a + 4, 5).putLong(a + 8, p.offset()).putLong(a + 16, p.paddr())
                    .putLong(a + 24, p.paddr()).putLong(a + 32, p.filesz()).putLong(a + 40, p.memsz()).putLong(a + 48, 0x1000);
        }
        return b;
    }

    /** The usual layout: headers first, {@code phs.length} entries of 56 bytes. */
    static byte[] elf(int size, long entry, Ph... phs) {
        return elf(size, EHDR, PHDR, phs.length, entry, phs);
    }

    static GuestImage parse(byte[] b) {
        return GuestImage.parse("edge.elf", b, 0x100000, 0x100000);
    }

    static void refused(byte[] b, String... fragments) {
        GuestImageException e = assertThrows(GuestImageException.class, () -> parse(b));
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), () -> "expected '" + f + "' in: " + e.getMessage());
        }
        assertTrue(e.getMessage().startsWith("edge.elf: "), e.getMessage());
    }

    // ---- flat images ----

    @Test
    void aFlatImageMayBeLoadedAndEnteredAtZero() {
        GuestImage img = GuestImage.parse("zero.bin", new byte[] {(byte) 0xf4, 0}, 0, 0);
        assertEquals(GuestImage.Format.FLAT, img.format());
        assertEquals(List.of(new GuestImage.Segment(0, 2, 0, 2)), img.segments());
        assertEquals(0, img.entry());
        assertEquals("zero.bin", img.name());
        assertEquals(2, img.highestAddress());
        assertThrows(GuestImageException.class, () -> GuestImage.parse("neg.bin", new byte[] {1}, -1, 0));
        assertThrows(GuestImageException.class, () -> GuestImage.parse("neg.bin", new byte[] {1}, 0, -1));
    }

    @Test
    void threeBytesOfTheMagicAreAFlatImage() {
        assertEquals(GuestImage.Format.FLAT, parse(new byte[] {0x7f, 'E', 'L'}).format());
        refused(new byte[] {0x7f, 'E', 'L', 'F'}, "truncated ELF header (4 of 64 bytes)");
    }

    // ---- the program header table ----

    @Test
    void aTableEndingExactlyAtTheEndOfTheFileIsInside() {
        // Segment data first, the table last: [200, 256) is the table, the file is 256 bytes.
        byte[] b = elf(256, 200, PHDR, 1, 0x100000, Ph.load(64, 0x100000, 100, 100));
        GuestImage img = parse(b);
        assertEquals(List.of(new GuestImage.Segment(0x100000, 100, 64, 100)), img.segments());
        // One byte shorter, and the table sticks out: the message gives its range and the file's size.
        refused(java.util.Arrays.copyOf(b, 255), "ELF program headers [200, +56) lie outside the 255-byte file");
        refused(elf(256, 201, PHDR, 1, 0x100000, Ph.load(64, 0x100000, 100, 100)), "[201, +56)", "256-byte file");
        // Two entries of 64 bytes: the range is phentsize * phnum.
        refused(elf(250, 130, 64, 2, 0x100000, Ph.load(0, 0x100000, 10, 10)), "[130, +128)", "250-byte file");
    }

    @Test
    void aTableAtOffsetZeroIsInsideTheFile() {
        // The table overlaps the ELF header: inside the file, but its first entry is the ELF
        // magic read as p_type, so there is no PT_LOAD.
        refused(elf(256, 0, PHDR, 1, 0x100000), "has no PT_LOAD segment");
        refused(elf(256, -1, PHDR, 1, 0x100000), "ELF program headers [-1, +56) lie outside");
    }

    @Test
    void programHeaderEntriesOf56BytesOrMoreAreRead() {
        refused(elf(400, EHDR, 55, 1, 0x100000, Ph.load(0, 0x100000, 10, 10)), "program header size 55 is too small");
        // 64-byte entries: the second one is read at 64 + 64.
        GuestImage img = parse(elf(400, EHDR, 64, 2, 0x100000, Ph.load(0, 0x100000, 10, 10), Ph.load(0, 0x200000, 10, 10)));
        assertEquals(2, img.segments().size());
        assertEquals(0x200000, img.segments().get(1).address());
        refused(elf(400, EHDR, PHDR, 0, 0x100000), "has no program headers");
    }

    // ---- segments ----

    @Test
    void aSegmentMayTakeTheFileUpToItsLastByte() {
        GuestImage img = parse(elf(300, 0x100000, Ph.load(200, 0x100000, 100, 100)));
        assertEquals(new GuestImage.Segment(0x100000, 100, 200, 100), img.segments().get(0));
        refused(elf(300, 0x100000, Ph.load(200, 0x100000, 101, 101)), "segment 0's file range [0xc8, +0x65) lies outside the 300-byte file");
    }

    @Test
    void aZeroFileSizeSegmentMayStartAtOffsetZeroOrAtTheEndOfTheFile() {
        // bss: nothing from the file, 0x2000 zero bytes in memory.
        GuestImage atZero = parse(elf(200, 0x100000, Ph.load(0, 0x100000, 0, 0x2000)));
        assertEquals(new GuestImage.Segment(0x100000, 0x2000, 0, 0), atZero.segments().get(0));
        GuestImage atEnd = parse(elf(200, 0x100000, Ph.load(200, 0x100000, 0, 0x2000)));
        assertEquals(new GuestImage.Segment(0x100000, 0x2000, 200, 0), atEnd.segments().get(0));
        refused(elf(200, 0x100000, Ph.load(201, 0x100000, 0, 0x2000)), "segment 0's file range [0xc9, +0x0) lies outside");
        refused(elf(200, 0x100000, Ph.load(-1, 0x100000, 0, 0x2000)), "segment 0's file range");
        refused(elf(200, 0x100000, Ph.load(0, 0x100000, -1, 0x2000)), "segment 0's file range");
    }

    @Test
    void aSegmentMayBeAsLargeInMemoryAsInTheFileButNotSmaller() {
        assertEquals(100, parse(elf(300, 0x100000, Ph.load(150, 0x100000, 100, 100))).segments().get(0).memorySize());
        refused(elf(300, 0x100000, Ph.load(150, 0x100000, 100, 99)), "segment 0 is smaller in memory (0x63) than in the file (0x64)");
    }

    @Test
    void emptyLoadSegmentsAndOtherTypesAreSkipped() {
        // PT_LOAD with nothing in memory, a PT_NOTE, then the real one: only the last counts.
        GuestImage img = parse(elf(400, 0x100000, Ph.load(0, 0x300000, 0, 0), new Ph(4, 0, 0x100000, 50, 50),
                Ph.load(300, 0x100000, 50, 60)));
        assertEquals(List.of(new GuestImage.Segment(0x100000, 60, 300, 50)), img.segments());
        refused(elf(400, 0x100000, Ph.load(0, 0x100000, 0, 0)), "has no PT_LOAD segment");
    }

    @Test
    void segmentsMayStartAtAddressZeroAndEndAtTheTopOfTheAddressSpace() {
        assertEquals(0, parse(elf(200, 0, Ph.load(0, 0, 16, 16))).lowestAddress());
        long top = Long.MAX_VALUE - 0x1000;
        GuestImage high = parse(elf(200, top, Ph.load(0, top, 16, 0x1000)));
        assertEquals(Long.MAX_VALUE, high.highestAddress());
        refused(elf(200, top, Ph.load(0, top, 16, 0x1001)), "segment 0 at 0x7fffffffffffefff + 0x1001 overflows the address space");
        refused(elf(200, 0, Ph.load(0, -0x1000, 16, 16)), "overflows the address space");
    }

    @Test
    void touchingSegmentsDoNotOverlapAndAreSortedByAddress() {
        GuestImage img = parse(elf(400, 0x100000, Ph.load(0, 0x100100, 16, 0x100), Ph.load(0, 0x100000, 16, 0x100)));
        assertEquals(List.of(new GuestImage.Segment(0x100000, 0x100, 0, 16), new GuestImage.Segment(0x100100, 0x100, 0, 16)),
                img.segments());
        assertEquals(0x100000, img.lowestAddress());
        assertEquals(0x100200, img.highestAddress());
        refused(elf(400, 0x100000, Ph.load(0, 0x100000, 16, 0x101), Ph.load(0, 0x100100, 16, 0x100)),
                "segments at 0x100000 and 0x100100 overlap");
    }

    // ---- fitting RAM and the boot area ----

    @Test
    void aSegmentMayEndExactlyAtTheEndOfRam() {
        long ram = 16 << 20;
        parse(elf(200, ram - 0x100, Ph.load(0, ram - 0x100, 16, 0x100))).checkFits(ram, 0x1000, 0xa0000);
        GuestImageException e = assertThrows(GuestImageException.class,
                () -> parse(elf(200, ram - 0x100, Ph.load(0, ram - 0x100, 16, 0x101))).checkFits(ram, 0x1000, 0xa0000));
        assertTrue(e.getMessage().contains("segment [0xffff00, 0x1000001) does not fit in 16777216 bytes of guest memory"), e.getMessage());
    }

    @Test
    void segmentsMayTouchTheBootAreaButNotEnterIt() {
        long ram = 16 << 20;
        // [0, 0x1000) ends where the boot area starts; [0xa0000, ...) starts where it ends.
        parse(elf(200, 0, Ph.load(0, 0, 16, 0x1000))).checkFits(ram, 0x1000, 0xa0000);
        parse(elf(200, 0xa0000, Ph.load(0, 0xa0000, 16, 0x1000))).checkFits(ram, 0x1000, 0xa0000);
        for (long[] s : new long[][] {{0, 0x1001}, {0x9ffff, 0x10}, {0x1000, 0x10}, {0, 0x100000}}) {
            GuestImage img = parse(elf(200, s[0], Ph.load(0, s[0], 16, s[1])));
            GuestImageException e = assertThrows(GuestImageException.class, () -> img.checkFits(ram, 0x1000, 0xa0000));
            assertTrue(e.getMessage().contains("overlaps kvmctl's boot area [0x1000, 0xa0000)"), e.getMessage());
        }
        // No boot area (real mode): anything in RAM fits.
        parse(elf(200, 0x1000, Ph.load(0, 0x1000, 16, 0x10))).checkFits(ram, 0, 0);
    }

    @Test
    void theEntryMustLieInsideASegment() {
        long ram = 16 << 20;
        parse(elf(200, 0x100000, Ph.load(0, 0x100000, 16, 0x100))).checkFits(ram, 0x1000, 0xa0000);
        parse(elf(200, 0x1000ff, Ph.load(0, 0x100000, 16, 0x100))).checkFits(ram, 0x1000, 0xa0000);
        for (long entry : new long[] {0x100100, 0xfffff, 0}) {
            GuestImage img = parse(elf(200, entry, Ph.load(0, 0x100000, 16, 0x100)));
            GuestImageException e = assertThrows(GuestImageException.class, () -> img.checkFits(ram, 0x1000, 0xa0000));
            assertTrue(e.getMessage().contains("entry point 0x" + Long.toHexString(entry) + " is outside the loaded image"), e.getMessage());
        }
    }

    // ---- loading ----

    @Test
    void loadingCopiesTheFileBytesThenZerosAndNothingElse() {
        byte[] b = elf(400, 0x2000, Ph.load(300, 0x2000, 40, 0x100), Ph.load(64, 0x3000, 16, 16));
        GuestImage img = parse(b);
        try (GuestMemory ram = GuestMemory.anonymous(0x10000)) {
            ram.fill(0, ram.size(), (byte) 0xa5);
            img.loadInto(ram);
            assertArrayEquals(java.util.Arrays.copyOfRange(b, 300, 340), ram.read(0x2000, 40));
            assertTrue(ram.isZero(0x2000 + 40, 0x100 - 40), "zeros up to p_memsz");
            assertArrayEquals(java.util.Arrays.copyOfRange(b, 64, 80), ram.read(0x3000, 16));
            byte[] untouched = new byte[0x1000];
            java.util.Arrays.fill(untouched, (byte) 0xa5);
            assertArrayEquals(untouched, ram.read(0x1000, 0x1000), "below the first segment");
            assertArrayEquals(java.util.Arrays.copyOf(untouched, 0x1000 - 0x100), ram.read(0x2100, 0x1000 - 0x100), "between them");
            assertArrayEquals(java.util.Arrays.copyOf(untouched, 0x100), ram.read(0x3010, 0x100), "after the last");
        }
    }

    @Test
    void loadingRefusesMemoryTooSmallForTheImage() {
        GuestImage img = parse(elf(200, 0x2000, Ph.load(0, 0x2000, 16, 0x1000)));
        try (GuestMemory ram = GuestMemory.anonymous(0x2000)) {
            GuestImageException e = assertThrows(GuestImageException.class, () -> img.loadInto(ram));
            assertTrue(e.getMessage().contains("segment [0x2000, 0x3000) is outside 8192 bytes of guest memory"), e.getMessage());
            assertTrue(ram.isZero(0, ram.size()), "nothing written");
        }
        try (GuestMemory exact = GuestMemory.anonymous(0x3000)) {
            img.loadInto(exact); // ends exactly at the end of memory
            assertEquals(0x7f, exact.getByte(0x2000)); // file byte 0, the ELF magic
        }
    }

    @Test
    void toStringNamesTheImageFormatSegmentsAndEntry() {
        GuestImage img = parse(elf(200, 0x100010, Ph.load(0, 0x100000, 16, 0x100)));
        assertEquals("edge.elf (ELF, 1 segment(s), entry 0x100010)", img.toString());
    }

    // ---- files ----

    @Test
    void readParsesARegularFileAndRefusesTheRest(@TempDir Path dir) throws IOException {
        byte[] b = elf(300, 0x100000, Ph.load(200, 0x100000, 100, 100));
        Path file = Files.write(dir.resolve("edge.elf"), b);
        GuestImage img = GuestImage.read(file, 0, 0);
        assertEquals(file.toString(), img.name());
        assertEquals(List.of(new GuestImage.Segment(0x100000, 100, 200, 100)), img.segments());
        GuestImage flat = GuestImage.read(Files.write(dir.resolve("flat.bin"), new byte[] {1, 2, 3}), 0x7c00, 0x7c01);
        assertEquals(List.of(new GuestImage.Segment(0x7c00, 3, 0, 3)), flat.segments());
        assertEquals(0x7c01, flat.entry());

        GuestImageException notRegular = assertThrows(GuestImageException.class, () -> GuestImage.read(dir, 0, 0));
        assertTrue(notRegular.getMessage().contains(dir.toString()), notRegular.getMessage());
        assertThrows(GuestImageException.class, () -> GuestImage.read(dir.resolve("missing.elf"), 0, 0));

        Path huge = dir.resolve("huge.bin"); // sparse: takes no disk space
        try (RandomAccessFile f = new RandomAccessFile(huge.toFile(), "rw")) {
            f.setLength(GuestImage.MAX_FILE_SIZE + 1);
        }
        GuestImageException tooLarge = assertThrows(GuestImageException.class, () -> GuestImage.read(huge, 0, 0));
        assertTrue(tooLarge.getMessage().startsWith(huge + " is larger than the " + GuestImage.MAX_FILE_SIZE
                + " bytes kvmctl reads at most"), tooLarge.getMessage());
        // The same limit given as the guest's RAM is still kvmctl's own limit.
        GuestImageException atLimit = assertThrows(GuestImageException.class,
                () -> GuestImage.read(huge, 0, 0, GuestImage.MAX_FILE_SIZE));
        assertEquals(tooLarge.getMessage(), atLimit.getMessage());
        // A smaller limit is the guest's RAM, and the message says to give it more.
        GuestImageException ram = assertThrows(GuestImageException.class, () -> GuestImage.read(file, 0, 0, 299));
        assertTrue(ram.getMessage().startsWith(file + " is larger than the guest's 299 bytes of RAM; give it more memory (--mem)"),
                ram.getMessage());
        assertEquals(List.of(new GuestImage.Segment(0x100000, 100, 200, 100)), GuestImage.read(file, 0, 0, 300).segments(),
                "a file exactly at the limit is read");
    }

    @Test
    void aHeaderOfExactly64BytesIsWholeAndItsTableMissing() {
        byte[] header = java.util.Arrays.copyOf(elf(200, 0x100000, Ph.load(0, 0x100000, 16, 16)), 64);
        refused(header, "ELF program headers [64, +56) lie outside the 64-byte file");
        refused(java.util.Arrays.copyOf(header, 63), "truncated ELF header (63 of 64 bytes)");
    }
}
