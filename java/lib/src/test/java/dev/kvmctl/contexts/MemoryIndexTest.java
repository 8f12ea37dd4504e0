package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.GuestMemory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/** The memory index's pure logic: chunk checksums, the combined whole-image CRC32C, the encoding and its checks. */
class MemoryIndexTest {
    private static final Path FILE = Path.of("test.snap");

    /**
     * A memfd's holes (never written, or discarded) are zero chunks found without reading them:
     * the index is the same as over anonymous memory with the same bytes, and the holes are still
     * holes afterwards (reading them would have allocated them: all 8 GiB of a mostly empty guest).
     */
    @Test
    void theHolesOfAMemfdAreZeroChunksAndStayUnallocated() {
        long size = 6L * MemoryIndex.CHUNK;
        try (GuestMemory memfd = GuestMemory.memfd("index-holes", size); GuestMemory anon = GuestMemory.anonymous(size)) {
            for (GuestMemory ram : new GuestMemory[] {memfd, anon}) {
                ram.putLong(0x40, 7);                                   // chunk 0: data
                ram.putLong(3L * MemoryIndex.CHUNK + 0x2000, 9);        // chunk 3: data
                ram.putLong(4L * MemoryIndex.CHUNK, 0);                 // chunk 4: written, but zeros
            }
            memfd.putLong(5L * MemoryIndex.CHUNK, 1);                   // chunk 5: written, then discarded
            memfd.discard(5L * MemoryIndex.CHUNK, MemoryIndex.CHUNK);
            assertFalse(memfd.mayHoldData(MemoryIndex.CHUNK, 2L * MemoryIndex.CHUNK));
            assertTrue(memfd.mayHoldData(MemoryIndex.CHUNK, 3L * MemoryIndex.CHUNK));
            assertFalse(memfd.mayHoldData(5L * MemoryIndex.CHUNK, MemoryIndex.CHUNK));
            assertTrue(anon.mayHoldData(MemoryIndex.CHUNK, MemoryIndex.CHUNK), "anonymous memory cannot tell: may hold data");
            MemoryIndex fromMemfd = MemoryIndex.of(memfd);
            MemoryIndex fromAnon = MemoryIndex.of(anon);
            for (int i = 0; i < fromMemfd.count(); i++) {
                assertEquals(i != 0 && i != 3, fromMemfd.isZero(i), "chunk " + i);
                assertEquals(fromAnon.isZero(i), fromMemfd.isZero(i), "chunk " + i);
                assertEquals(fromAnon.crc(i), fromMemfd.crc(i), "chunk " + i);
            }
            assertEquals(fromAnon.wholeCrc(), fromMemfd.wholeCrc());
            for (int hole : new int[] {1, 2, 5}) {
                assertFalse(memfd.mayHoldData((long) hole * MemoryIndex.CHUNK, MemoryIndex.CHUNK),
                        "chunk " + hole + " is still a hole after the index was built");
            }
        }
    }

    @Test
    void combiningChunkCrcsGivesTheCrcOfTheWhole() {
        Random random = new Random(7);
        for (int trial = 0; trial < 50; trial++) {
            byte[] a = new byte[random.nextInt(5000)];
            byte[] b = new byte[random.nextInt(5000)];
            random.nextBytes(a);
            random.nextBytes(b);
            byte[] ab = new byte[a.length + b.length];
            System.arraycopy(a, 0, ab, 0, a.length);
            System.arraycopy(b, 0, ab, a.length, b.length);
            assertEquals(crc(ab), MemoryIndex.combine(crc(a), crc(b), b.length), "lengths " + a.length + ", " + b.length);
        }
    }

    /** Data, zero and partial chunks: the index's whole CRC equals one sequential pass, as the old writer computed it. */
    @Test
    void theWholeCrcOfAnIndexEqualsASequentialPass() {
        long size = 3L * MemoryIndex.CHUNK + 5 * GuestMemory.PAGE_SIZE;
        try (GuestMemory ram = GuestMemory.anonymous(size)) {
            ram.putLong(0x1234, 0xfeedfacecafeL);                       // chunk 0: data
            ram.putLong(2L * MemoryIndex.CHUNK + 8, 42);                // chunk 2: data; chunk 1 zero
            ram.putLong(size - 8, -1);                                   // the partial last chunk: data
            MemoryIndex index = MemoryIndex.of(ram);
            assertEquals(4, index.count());
            assertFalse(index.isZero(0));
            assertTrue(index.isZero(1));
            assertFalse(index.isZero(3));
            assertEquals(5 * (int) GuestMemory.PAGE_SIZE, index.length(3));
            CRC32C whole = new CRC32C();
            whole.update(ram.slice(0, (int) size));
            assertEquals((int) whole.getValue(), index.wholeCrc());
            MemoryIndex back = MemoryIndex.decode(index.encode(), size, FILE);
            for (int i = 0; i < index.count(); i++) {
                assertEquals(index.crc(i), back.crc(i));
                assertEquals(index.isZero(i), back.isZero(i));
            }
            assertEquals(MemoryIndex.crc(ram.slice(MemoryIndex.CHUNK, MemoryIndex.CHUNK)), index.crc(1));
        }
    }

    @Test
    void anIndexThatDoesNotFitTheMemoryIsRefused() {
        long size = 2L * MemoryIndex.CHUNK;
        try (GuestMemory ram = GuestMemory.anonymous(size)) {
            byte[] bytes = MemoryIndex.of(ram).encode();
            ContextFormatException e = assertThrows(ContextFormatException.class, () -> MemoryIndex.decode(bytes, 2 * size, FILE));
            assertTrue(e.getMessage().contains("memory index does not describe"), e.getMessage());
            bytes[bytes.length - 1] = 7;
            e = assertThrows(ContextFormatException.class, () -> MemoryIndex.decode(bytes, size, FILE));
            assertTrue(e.getMessage().contains("flags chunk 1 with 7"), e.getMessage());
        }
    }

    private static int crc(byte[] bytes) {
        CRC32C c = new CRC32C();
        c.update(ByteBuffer.wrap(bytes));
        return (int) c.getValue();
    }
}
