package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.Tmpfs;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Snapshots are written durably and replaced atomically: a failed write of any kind leaves the
 * previous file byte for byte and no temporary file; a restored machine checkpoints back to its
 * own file and goes on; paths that cannot take a snapshot are refused before anything is written.
 */
class SnapshotDurabilityTest {
    @TempDir
    Path dir;
    private static String uninterrupted;

    @BeforeAll
    static void uninterruptedRun() {
        KvmAvailable.assumeKvm();
        uninterrupted = StoppedSseSnapshot.runUninterrupted();
    }

    @Test
    void writingAgainReplacesTheFileWholeAndLeavesNoTemporaryFile() throws Exception {
        Path f = dir.resolve("guest.snap");
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false)) {
            long first = Snapshot.write(m, f, done -> {});
            assertEquals(first, Files.size(f));
            m.ram().write(4 << 20, new byte[] {1, 2, 3});
            Snapshot.write(m, f, done -> {});
        }
        assertEquals(Set.of("guest.snap"), names(dir));
        assertEquals("hello-long.elf", Snapshot.inspect(f).name());
    }

    /**
     * Restore from F, run on, checkpoint back to F, run on: the running restore is undisturbed by
     * its own file being replaced, and F now continues from the second point.
     */
    @Test
    void checkpointingARestoredMachineBackToItsOwnFileWorks() throws Exception {
        Path f = dir.resolve("own.snap");
        String first = StoppedSseSnapshot.writeStoppedAfterFirstLine(f);
        StopAfterLines second = new StopAfterLines(1); // the restored guest's first line is the original's second
        ByteArrayOutputStream rest = new ByteArrayOutputStream();
        String atCheckpoint;
        try (Kvm kvm = Kvm.open(); Machine restored = Snapshot.restore(kvm, f, second)) {
            second.pausing(restored);
            assertInstanceOf(Machine.Preempted.class, restored.runSlice(), "paused after its computation");
            atCheckpoint = second.toString();
            Snapshot.write(restored, f, done -> {}); // over the file it was restored from
            try (Machine again = Snapshot.restore(kvm, f, rest)) {
                assertTrue(again.run(Duration.ofSeconds(60)).succeeded());
            }
            RunResult r = restored.run(Duration.ofSeconds(60)); // the checkpointed machine goes on too
            assertTrue(r.succeeded(), r.detail());
        }
        assertEquals(Guests.line(uninterrupted, "dot=") + "\n", atCheckpoint);
        assertEquals(uninterrupted, first + atCheckpoint + rest, "restored from the checkpoint");
        assertEquals(uninterrupted, first + second, "the checkpointed machine itself");
    }

    /** An exception halfway through (here from the progress callback) leaves the old file and no temporary. */
    @Test
    void aWriteThatFailsHalfwayLeavesThePreviousFileAndNoTemporaryFile() throws Exception {
        Path f = dir.resolve("halfway.snap");
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false)) {
            Snapshot.write(m, f, done -> {});
            byte[] previous = Files.readAllBytes(f);
            m.ram().write(4 << 20, random(1 << 20));
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> Snapshot.write(m, f, done -> {
                throw new IllegalStateException("stop here");
            }));
            assertEquals("stop here", e.getMessage());
            assertArrayEquals(previous, Files.readAllBytes(f));
        }
        assertEquals(Set.of("halfway.snap"), names(dir));
    }

    /** A real full disk (a small tmpfs): ENOSPC is an I/O error naming the file; the old file is kept byte for byte. */
    @Test
    void aFullDiskLeavesThePreviousFileExactlyAsItWas() throws Exception {
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        try (Tmpfs fs = Tmpfs.mount(mnt, "8m"); Kvm kvm = Kvm.open();
             Machine m = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false)) {
            Path f = mnt.resolve("guest.snap");
            Snapshot.write(m, f, done -> {});
            byte[] previous = Files.readAllBytes(f);
            fs.fill("filler");
            m.ram().write(4 << 20, random(2 << 20)); // the new snapshot needs room the disk no longer has
            UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> Snapshot.write(m, f, done -> {}));
            assertTrue(e.getMessage().startsWith("could not write snapshot " + f + ": No space left on device"), e.getMessage());
            assertTrue(e.getMessage().endsWith("the previous " + f + " is unchanged"), e.getMessage());
            assertArrayEquals(previous, Files.readAllBytes(f));
            assertEquals(Set.of("guest.snap", "filler"), names(mnt));
            assertEquals("hello-long.elf", Snapshot.inspect(f).name());
        }
    }

    @Test
    void pathsThatCannotTakeASnapshotAreRefusedBeforeAnythingIsWritten() throws Exception {
        assertDestination(dir.resolve("missing").resolve("x.snap"), "does not exist");
        assertDestination(dir, "is a directory");
        assertDestination(Path.of("/dev/full"), "not a regular file");
        Path fifo = dir.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        KvmAvailable.require(mk.waitFor() == 0, "mkfifo is not available");
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Snapshot.write(m, fifo, done -> {}));
            assertTrue(e.getMessage().contains("not a regular file"), e.getMessage());
        }
        assertTrue(Files.exists(fifo) && !Files.isRegularFile(fifo), "the FIFO is still a FIFO, not replaced by a file");
        assertEquals(Set.of("fifo"), names(dir));
    }

    /** Through a symbolic link the file it points to is replaced; the link stays a link. */
    @Test
    void aSymbolicLinkIsFollowed() throws Exception {
        Files.createDirectory(dir.resolve("real"));
        Path target = dir.resolve("real").resolve("guest.snap");
        Files.write(target, new byte[] {1});
        Path link = Files.createSymbolicLink(dir.resolve("link.snap"), target);
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false)) {
            Snapshot.write(m, link, done -> {});
        }
        assertTrue(Files.isSymbolicLink(link));
        assertEquals("hello-long.elf", Snapshot.inspect(target).name());
    }

    /** A positional write may take fewer bytes than asked: the rest is written, not dropped. */
    @Test
    void shortWritesAreCompletedAndANoProgressWriteIsAnError() throws Exception {
        Path f = dir.resolve("short.bin");
        byte[] data = random(100_000);
        try (FileChannel ch = new DelegatingChannel(FileChannel.open(f, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.READ)) {
            @Override
            public int write(ByteBuffer src, long position) throws IOException {
                ByteBuffer part = src.slice(src.position(), Math.min(777, src.remaining()));
                int n = real.write(part, position);
                src.position(src.position() + n);
                return n;
            }
        }) {
            AtomicFile.writeFully(ch, ByteBuffer.wrap(data), 10);
        }
        byte[] back = Files.readAllBytes(f);
        assertEquals(data.length + 10, back.length);
        assertArrayEquals(data, java.util.Arrays.copyOfRange(back, 10, back.length));

        try (FileChannel stuck = new DelegatingChannel(FileChannel.open(f, StandardOpenOption.WRITE)) {
            @Override
            public int write(ByteBuffer src, long position) {
                return 0;
            }
        }) {
            IOException e = assertThrows(IOException.class, () -> AtomicFile.writeFully(stuck, ByteBuffer.wrap(data), 0));
            assertTrue(e.getMessage().contains("accepted no bytes"), e.getMessage());
        }
    }

    private static void assertDestination(Path file, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Snapshot.checkDestination(file));
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
        assertFalse(e.getMessage().contains("\n"), "one line");
    }

    private static byte[] random(int n) {
        byte[] b = new byte[n];
        new Random(7).nextBytes(b);
        return b;
    }

    private static Set<String> names(Path d) throws IOException {
        try (Stream<Path> s = Files.list(d)) {
            return new TreeSet<>(s.map(p -> p.getFileName().toString()).toList());
        }
    }
}
