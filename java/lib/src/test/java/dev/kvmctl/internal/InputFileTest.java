package dev.kvmctl.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.TestFiles;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One descriptor per file: its kind and size come from it, reads stop at the bound. No KVM. */
class InputFileTest {
    @TempDir
    Path dir;

    @Test
    void aRegularFileIsReadWhole() throws IOException {
        byte[] data = new byte[3 << 20];
        new java.util.Random(1).nextBytes(data);
        Path f = Files.write(dir.resolve("image"), data);
        try (InputFile in = InputFile.open(f)) {
            assertEquals(InputFile.Kind.REGULAR, in.kind());
            assertEquals(data.length, in.size());
            assertArrayEquals(data, in.readAll(data.length));
        }
        Path empty = Files.createFile(dir.resolve("empty"));
        try (InputFile in = InputFile.open(empty)) {
            assertEquals(0, in.readAll(0).length);
        }
    }

    @Test
    void whatIsNotARegularFileIsToldApartWithoutBlocking() throws Exception {
        try (InputFile in = InputFile.open(dir)) {
            assertEquals(InputFile.Kind.DIRECTORY, in.kind());
        }
        try (InputFile in = InputFile.open(Path.of("/dev/zero"))) {
            assertEquals(InputFile.Kind.CHARACTER_DEVICE, in.kind());
        }
        Path link = Files.createSymbolicLink(dir.resolve("zero-link"), Path.of("/dev/zero"));
        try (InputFile in = InputFile.open(link)) {
            assertEquals(InputFile.Kind.CHARACTER_DEVICE, in.kind(), "a symbolic link is judged by what it points to");
        }
        Files.delete(link);
        // Nobody writes to this FIFO: a blocking open would never return.
        try (InputFile in = InputFile.open(TestFiles.mkfifo(dir.resolve("fifo")))) {
            assertEquals(InputFile.Kind.FIFO, in.kind());
        }
    }

    @Test
    void pathsThatCannotBeOpenedAreTheCallersToFix() throws IOException {
        assertThrows(NoSuchFileException.class, () -> InputFile.open(dir.resolve("missing")));
        assertThrows(NoSuchFileException.class, () -> InputFile.open(dir.resolve("missing/below")));
        Path socket = dir.resolve("socket");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            InputFile.UnusableFileException e = assertThrows(InputFile.UnusableFileException.class, () -> InputFile.open(socket));
            assertTrue(e.getMessage().contains(socket.toString()) && e.getMessage().contains("ENXIO"), e.getMessage());
        }
        Path unreadable = Files.write(dir.resolve("unreadable"), new byte[] {1});
        Files.setPosixFilePermissions(unreadable, java.util.Set.of());
        if (!"root".equals(System.getProperty("user.name"))) { // root reads whatever the mode says
            assertThrows(AccessDeniedException.class, () -> InputFile.open(unreadable));
        }
    }

    @Test
    void readsStopAtTheBoundWhateverTheSizeSaid() throws IOException {
        Path sparse = dir.resolve("sparse");
        try (RandomAccessFile f = new RandomAccessFile(sparse.toFile(), "rw")) {
            f.setLength(1L << 40); // 1 TiB of holes: refused by its size, nothing is read or allocated
        }
        try (InputFile in = InputFile.open(sparse)) {
            InputFile.FileTooLargeException e = assertThrows(InputFile.FileTooLargeException.class, () -> in.readAll(16 << 20));
            assertEquals(16 << 20, e.limit());
        }
        // /proc files say they are empty and are not: the bound still holds.
        try (InputFile in = InputFile.open(Path.of("/proc/self/maps"))) {
            assertEquals(InputFile.Kind.REGULAR, in.kind());
            assertEquals(0, in.size());
            assertThrows(InputFile.FileTooLargeException.class, () -> in.readAll(64));
        }
        try (InputFile in = InputFile.open(Path.of("/proc/self/maps"))) {
            assertTrue(in.readAll(64 << 20).length > 64, "read past the reported size of 0");
        }
    }

    @Test
    void aReadErrorNamesTheFile() throws IOException {
        try (InputFile in = InputFile.open(Path.of("/proc/self/mem"))) { // offset 0 is never mapped: EIO
            IOException e = assertThrows(IOException.class, () -> in.readAll(1 << 20));
            assertTrue(e.getMessage().contains("/proc/self/mem") && e.getMessage().contains("EIO"), e.getMessage());
        }
    }

    @Test
    void theFileOpenedIsTheFileReadEvenIfThePathIsSwapped() throws Exception {
        Path f = Files.write(dir.resolve("image"), new byte[] {1, 2, 3});
        try (InputFile in = InputFile.open(f)) {
            Path fifo = TestFiles.mkfifo(dir.resolve("swap"));
            Files.move(fifo, f, StandardCopyOption.REPLACE_EXISTING); // the path now names a FIFO
            assertEquals(InputFile.Kind.REGULAR, in.kind());
            assertArrayEquals(new byte[] {1, 2, 3}, in.readAll(16));
        }
    }
}
