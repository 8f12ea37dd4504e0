package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The lazy restore on the real /dev/kvm: the guest starts on memory that a userfaultfd fills
 * chunk by chunk from the file, each chunk checked first. It continues exactly; a corrupted chunk
 * or a file truncated under it stops it with {@link Outcome#CORRUPTED} and a message, and the
 * JVM, reading every page meanwhile, neither crashes nor hangs.
 */
class LazyRestoreTest {
    @TempDir
    static Path dir;
    /** sse-compute stopped after its first line, before its computation. */
    private static Path good;
    private static String before;
    private static String uninterrupted;

    @BeforeAll
    static void takeSnapshot() throws Exception {
        KvmAvailable.assumeKvm();
        StoppedSseSnapshot snapshot = StoppedSseSnapshot.take(dir);
        good = snapshot.file();
        before = snapshot.before();
        uninterrupted = snapshot.uninterrupted();
    }

    @Test
    void aLazyRestoreContinuesExactlyAndVerifiesTheWholeImage() throws Exception {
        ByteArrayOutputStream after = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open()) {
            LazyRestore restore = LazyRestore.start(kvm, good, after);
            assertTrue(restore.isLazy(), restore.fallbackReason());
            try (Machine m = restore.machine()) {
                // restore_ms's end: nothing to report before the guest entered KVM_RUN
                assertThrows(IllegalStateException.class, restore::firstRunNanos);
                RunResult r = m.run(Duration.ofSeconds(60));
                assertTrue(r.succeeded(), r.detail());
                assertTrue(restore.firstRunNanos() >= restore.restoreNanos(),
                        "the first KVM_RUN comes after the machine was ready");
                assertTrue(restore.awaitVerified(Duration.ofSeconds(60)));
                assertTrue(restore.isVerified());
                assertNull(restore.failure());
                assertTrue(restore.verifyNanos() >= 0);
                // the restored machine writes a snapshot of itself that restores again: the JVM reads all of its memory
                Path again = dir.resolve("again.snap");
                Snapshot.write(m, again, done -> {});
                assertEquals(Files.size(good), Files.size(again));
            }
        }
        assertEquals(uninterrupted, before + after, "the lazily restored guest continued exactly");
    }

    /**
     * Nothing is loaded but what the guest touches (the background loading held back): the guest
     * still continues exactly, on chunks its own faults brought in; then the rest is verified.
     */
    @Test
    void theGuestRunsOnChunksLoadedWhenItFirstTouchesThem() throws Exception {
        ByteArrayOutputStream after = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open()) {
            LazyRestore restore = LazyRestore.start(kvm, FileChannel.open(good), good, after, System.nanoTime(), false);
            try (Machine m = restore.machine()) {
                RunResult r = m.run(Duration.ofSeconds(60));
                assertTrue(r.succeeded(), r.detail());
                assertTrue(restore.faults() > 0, "the guest's first touches went through the userfaultfd");
                assertFalse(restore.isVerified(), "nothing but the touched chunks was loaded yet");
                restore.startPrefetching();
                assertTrue(restore.awaitVerified(Duration.ofSeconds(60)));
                assertTrue(restore.isVerified(), restore.failure());
            }
        }
        assertEquals(uninterrupted, before + after);
    }

    /**
     * One byte changed in every non-zero chunk, and only what the guest touches is loaded: the
     * chunk of its first touch fails, the running vCPU is kicked out and the guest stops.
     */
    @Test
    void aCorruptedChunkStopsTheGuestWithItsOwnStatusAndAMessage() throws Exception {
        Path f = Files.copy(good, dir.resolve("corrupt.snap"), StandardCopyOption.REPLACE_EXISTING);
        Crafted.Header h = Crafted.header(f);
        MemoryIndex index = MemoryIndex.decode(Crafted.metadata(f).get(MemoryIndex.SECTION), h.memorySize(), f);
        int corrupted = 0;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            for (int i = 0; i < index.count(); i++) {
                if (!index.isZero(i)) {
                    corrupted += flipFirstNonZeroByte(ch, h.memoryOffset() + index.offset(i), index.length(i)) ? 1 : 0;
                }
            }
        }
        assertTrue(corrupted > 0);
        try (Kvm kvm = Kvm.open()) {
            LazyRestore restore = LazyRestore.start(kvm, FileChannel.open(f), f, new ByteArrayOutputStream(), System.nanoTime(), false);
            try (Machine m = restore.machine()) {
                RunResult r = m.run(Duration.ofSeconds(60));
                assertTrue(restore.faults() > 0, "found by the guest's own touch");
                assertEquals(Outcome.CORRUPTED, r.outcome(), r.detail());
                assertEquals(Outcome.CORRUPTED_STATUS, r.status());
                assertTrue(r.detail().contains("does not match its checksum"), r.detail());
                assertTrue(restore.awaitVerified(Duration.ofSeconds(60)));
                assertFalse(restore.isVerified());
                assertNotNull(restore.failure());
                m.ram().isZero(0, m.ram().size()); // the JVM reads it all after the failure: no hang, no crash
            }
        }
    }

    /**
     * The file is truncated after the metadata was read and before any memory was: the JVM reads
     * every page (it waits for the loader, which gives up), the guest stops as CORRUPTED.
     */
    @Test
    void aFileTruncatedWhileTheGuestRunsStopsItWithoutCrashingTheJvm() throws Exception {
        Path f = Files.copy(good, dir.resolve("shrinking.snap"), StandardCopyOption.REPLACE_EXISTING);
        long memoryOffset = Crafted.header(f).memoryOffset();
        CountDownLatch truncated = new CountDownLatch(1);
        FileChannel ch = new DelegatingChannel(FileChannel.open(f)) {
            @Override
            public int read(ByteBuffer dst, long position) throws IOException {
                if (position >= memoryOffset) {
                    try {
                        truncated.await();
                    } catch (InterruptedException e) {
                        throw new IOException(e);
                    }
                }
                return real.read(dst, position);
            }
        };
        try (Kvm kvm = Kvm.open()) {
            LazyRestore restore = LazyRestore.start(kvm, ch, f, new ByteArrayOutputStream());
            try (Machine m = restore.machine()) {
                try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                    r.setLength(0);
                    r.write(new byte[8192]);
                }
                truncated.countDown();
                for (long at = 0; at < m.ram().size(); at += 4096) {
                    m.ram().isZero(at, 4096); // every page touched by the JVM: no SIGBUS, no hang
                }
                assertTrue(restore.failure().contains("truncated after it was opened"), restore.failure());
                RunResult r = m.run(Duration.ofSeconds(60));
                assertEquals(Outcome.CORRUPTED, r.outcome(), r.detail());
                assertTrue(r.detail().contains("truncated"), r.detail());
            }
        }
    }

    @Test
    void aSnapshotWithoutAMemoryIndexIsCopiedAndSaysWhy() throws Exception {
        Path f = dir.resolve("old.snap");
        Crafted.rewrite(good, f, s -> new Sections().put(Sections.MACHINE_CONFIG, s.get(Sections.MACHINE_CONFIG))
                .put(Sections.HYPERVISOR_CONTEXT, s.get(Sections.HYPERVISOR_CONTEXT))
                .put(Sections.VCPU_CONTEXT, s.get(Sections.VCPU_CONTEXT)), Crafted.header(good).memorySize());
        ByteArrayOutputStream after = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open()) {
            LazyRestore restore = LazyRestore.start(kvm, f, after);
            assertFalse(restore.isLazy());
            assertTrue(restore.fallbackReason().contains("has no memory index"), restore.fallbackReason());
            try (Machine m = restore.machine()) {
                assertTrue(m.run(Duration.ofSeconds(60)).succeeded());
            }
            assertTrue(restore.isVerified());
        }
        assertEquals(uninterrupted, before + after);
    }

    private static boolean flipFirstNonZeroByte(FileChannel ch, long from, int length) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(length);
        while (b.hasRemaining() && ch.read(b, from + b.position()) > 0) {
            // fill
        }
        for (int i = 0; i < length; i++) {
            if (b.get(i) != 0) {
                ch.write(ByteBuffer.wrap(new byte[] {(byte) (b.get(i) ^ 0x01)}), from + i);
                return true;
            }
        }
        return false;
    }
}
