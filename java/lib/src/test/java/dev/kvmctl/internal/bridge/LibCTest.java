package dev.kvmctl.internal.bridge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link LibC} through jffi: results, errno, strings and byte arrays cross as libc's own calls
 * would have them, and a string with a NUL inside never reaches libc shortened.
 */
class LibCTest {
    private static final int ENOENT = 2;
    private static final int EBADF = 9;

    @TempDir
    Path tmp;

    @Test
    void errnoComesBackWithMinusOne() {
        assertEquals(-1, LibC.INSTANCE.open(tmp.resolve("missing").toString(), LibC.O_RDONLY | LibC.O_CLOEXEC));
        assertEquals(ENOENT, LibC.errno());
        assertEquals(-1, LibC.INSTANCE.close(-5));
        assertEquals(EBADF, LibC.errno());
        assertEquals(LibC.MAP_FAILED, LibC.map(4096, LibC.PROT_READ, LibC.MAP_SHARED, -1));
        assertEquals(EBADF, LibC.errno());
    }

    @Test
    void aStringWithANulFailsWithEinvalInsteadOfNamingAnotherFile() throws Exception {
        Path real = Files.writeString(tmp.resolve("real"), "x");
        int fd = LibC.INSTANCE.open(real + "\0ignored", LibC.O_RDONLY | LibC.O_CLOEXEC);
        assertEquals(-1, fd, "the part before the NUL names a file that exists");
        assertEquals(LibC.EINVAL, LibC.errno());
        assertEquals(-1, LibC.INSTANCE.memfd_create("a\0b", LibC.MFD_CLOEXEC));
        assertEquals(LibC.EINVAL, LibC.errno());
    }

    @Test
    void bytesRoundTripThroughAMemfdAndItsMapping() {
        int fd = LibC.INSTANCE.memfd_create("libc-test", LibC.MFD_CLOEXEC);
        assertTrue(fd >= 0, "memfd_create: errno " + LibC.errno());
        try {
            assertEquals(0, LibC.INSTANCE.ftruncate(fd, 8192));
            byte[] data = {1, 2, 3, 4, 5, (byte) 0xff};
            assertEquals(data.length, LibC.INSTANCE.write(fd, data, data.length));
            long address = LibC.map(8192, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd);
            assertNotEquals(LibC.MAP_FAILED, address);
            byte[] seen = new byte[data.length];
            Memory.copyOut(address, seen, 0, seen.length);
            assertArrayEquals(data, seen);
            assertEquals(0, LibC.INSTANCE.madvise(address, 8192, LibC.MADV_DONTNEED));
            assertEquals(0, LibC.INSTANCE.munmap(address, 8192));
            int dup = LibC.INSTANCE.dup(fd);
            assertTrue(dup >= 0, "dup: errno " + LibC.errno());
            assertEquals(0, LibC.INSTANCE.close(dup));
        } finally {
            LibC.INSTANCE.close(fd);
        }
    }

    @Test
    void anEventfdCountsWhatIsWrittenAndReadsItBack() {
        int efd = LibC.INSTANCE.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        assertTrue(efd >= 0, "eventfd: errno " + LibC.errno());
        try {
            byte[] three = {3, 0, 0, 0, 0, 0, 0, 0};
            assertEquals(8, LibC.INSTANCE.write(efd, three, 8));
            assertEquals(8, LibC.INSTANCE.write(efd, three, 8));
            byte[] got = new byte[8];
            assertEquals(8, LibC.INSTANCE.read(efd, got, 8));
            assertEquals(6, got[0]);
            assertEquals(-1, LibC.INSTANCE.read(efd, got, 8), "empty and non-blocking");
            assertEquals(11, LibC.errno(), "EAGAIN");
        } finally {
            LibC.INSTANCE.close(efd);
        }
    }
}
