package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.state.Msrs;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * Restore checks before it trusts: hostile snapshots that pass every checksum are refused by the
 * bounds checks before anything is allocated or read; the file is read through the one
 * descriptor that was checked; and a file truncated or rewritten by someone else during or after
 * a restore never reaches the guest or the JVM.
 */
class SnapshotRestoreSafetyTest {
    private static final long ITERATIONS = StoppedSseSnapshot.ITERATIONS;

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
        assertEquals(1, before.split("\n").length, before);
    }

    @Test
    void aHugeArgumentCountThatPassesTheChecksumsIsRefusedBeforeAnythingIsAllocated() throws Exception {
        Path f = dir.resolve("args.snap");
        long ram = Crafted.header(good).memorySize();
        Crafted.rewrite(good, f, Crafted.config(Crafted.configWithArgumentCount("sse-compute.elf", ram, 0x7fffffff)), ram);
        // Before the bound, this allocated a 16 GiB array: OutOfMemoryError, not a refusal.
        assertRefused(f, "lists 2147483647 guest arguments");
        Crafted.rewrite(good, f, Crafted.config(Crafted.configWithArgumentCount("sse-compute.elf", ram, -1)), ram);
        assertRefused(f, "lists -1 guest arguments");
    }

    @Test
    void metadataLargerThanAnySnapshotsIsRefusedBeforeItIsRead() throws Exception {
        Path f = dir.resolve("meta.snap");
        byte[] meta = Crafted.metadata(good).encode();
        Crafted.writeRaw(good, f, meta, 64L << 20, Crafted.header(good).memorySize(), Crafted.header(good).memoryCrc());
        assertRefused(f, "impossible layout");
    }

    @Test
    void anMsrListLongerThanKvmTakesIsRefused() throws Exception {
        Path f = dir.resolve("msrs.snap");
        Msrs many = new Msrs(4000);
        Crafted.rewrite(good, f, s -> s.put(Sections.VCPU_CONTEXT,
                Sections.decode(s.get(Sections.VCPU_CONTEXT)).put(Sections.MSRS, many).encode()), Crafted.header(good).memorySize());
        try (Kvm kvm = Kvm.open()) {
            ContextFormatException e = assertThrows(ContextFormatException.class,
                    () -> Snapshot.restore(kvm, f, OutputStream.nullOutputStream()).close());
            assertTrue(e.getMessage().contains("lists 4000 MSRs"), e.getMessage());
        }
    }

    /**
     * A device-state section (the machine's counters) of the wrong size is refused when the
     * context is read, before {@code restoreInto} copies memory or rebuilds the VM: the machine is
     * left exactly as it was.
     */
    @Test
    void aDamagedDeviceStateIsRefusedBeforeTheMachineIsTouched() throws Exception {
        Path f = dir.resolve("devices.snap");
        Crafted.rewrite(good, f, s -> s.put(Sections.HYPERVISOR_CONTEXT,
                Sections.decode(s.get(Sections.HYPERVISOR_CONTEXT)).put(Sections.DEVICES, new byte[3]).encode()),
                Crafted.header(good).memorySize());
        try (Kvm kvm = Kvm.open();
             Machine m = Guests.boot(kvm, "sse-compute.elf", new ByteArrayOutputStream(), false, ITERATIONS)) {
            m.ram().putLong(0x200000, 0x5eed_cafe_f00dL);
            byte[] ram = m.ram().read(0, (int) m.ram().size());
            Object vm = m.vm();
            assertMessage(() -> Snapshot.restoreInto(m, f), "device state of 3 bytes");
            assertTrue(java.util.Arrays.equals(ram, m.ram().read(0, ram.length)), "the refused snapshot changed the machine's memory");
            assertTrue(vm == m.vm(), "the refused snapshot rebuilt the machine's VM");
            assertMessage(() -> Snapshot.restore(kvm, f, OutputStream.nullOutputStream()).close(), "device state of 3 bytes");
        }
    }

    /**
     * An 8 GiB sparse file whose header claims 8 GiB of memory, its configuration 16 MiB: refused
     * by the size check, before any pass over the memory (the pass is what used to take 20 s; the
     * message shows which check refused it).
     */
    @Test
    void anEightGiBSparseFileWithABogusMemorySizeIsRefusedByTheSizeCheck() throws Exception {
        Path f = dir.resolve("sparse.snap");
        long eightGiB = 8L << 30;
        Crafted.rewrite(good, f, s -> s, eightGiB);
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(Crafted.header(f).memoryOffset() + eightGiB); // sparse: nothing is written
        }
        try {
            assertRefused(f, "its configuration says " + GuestConfig.DEFAULT_MEMORY + " bytes of RAM, its header " + eightGiB);
        } finally {
            Files.delete(f);
        }
    }

    @Test
    void aMemorySizeThatWouldOverflowIsRefusedAsTruncated() throws Exception {
        Path f = dir.resolve("overflow.snap");
        Crafted.rewrite(good, f, s -> s, Long.MAX_VALUE & -4096L);
        assertRefused(f, "truncated");
    }

    @Test
    void bytesAfterTheMemoryImageAreRefused() throws Exception {
        Path f = copy("trailing.snap");
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.APPEND)) {
            ch.write(ByteBuffer.wrap(new byte[] {1, 2, 3}));
        }
        assertRefused(f, "3 bytes follow its memory image");
    }

    /** The bytes restored are those of the descriptor that was opened, whatever its path names later. */
    @Test
    void restoreReadsTheFileItOpenedNotWhatThePathNamesLater() throws Exception {
        Path a = copy("opened.snap");
        Path other = dir.resolve("other.snap");
        try (Kvm kvm = Kvm.open(); Machine hello = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false)) {
            Snapshot.write(hello, other, done -> {});
        }
        ByteArrayOutputStream after = new ByteArrayOutputStream();
        try (FileChannel ch = FileChannel.open(a); Kvm kvm = Kvm.open()) {
            Files.move(other, a, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            assertEquals("hello-long.elf", Snapshot.inspect(a).name(), "the path now names another snapshot");
            try (Machine m = Snapshot.restore(kvm, ch, a, after)) {
                assertEquals("sse-compute.elf", m.name());
                assertTrue(m.run(Duration.ofSeconds(60)).succeeded());
            }
        }
        assertEquals(uninterrupted, before + after, "the opened file's guest continued exactly");
    }

    /** Someone truncates the file while it is being read: a clear refusal, and the new RAM is freed. */
    @Test
    void aFileTruncatedWhileItIsReadIsRefusedCleanly() throws Exception {
        Path f = copy("shrinking.snap");
        long memoryOffset = Crafted.header(f).memoryOffset();
        long memfds = memfds();
        try (Kvm kvm = Kvm.open(); FileChannel ch = new DelegatingChannel(FileChannel.open(f)) {
            @Override
            public int read(ByteBuffer dst, long position) throws IOException {
                int n = real.read(dst, position);
                if (position >= memoryOffset) {
                    try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                        r.setLength(memoryOffset + (2 << 20)); // after the first chunk of memory is read
                    }
                }
                return n;
            }
        }) {
            ContextFormatException e = assertThrows(ContextFormatException.class,
                    () -> Snapshot.restore(kvm, ch, f, OutputStream.nullOutputStream()).close());
            assertTrue(e.getMessage().contains("truncated after it was opened"), e.getMessage());
        }
        assertEquals(memfds, memfds(), "the RAM made for the restore was closed");
    }

    /** Someone rewrites part of the memory image while it is being read: the checksum over what was read refuses it. */
    @Test
    void aFileChangedWhileItIsReadFailsTheChecksum() throws Exception {
        Path f = copy("changing.snap");
        long memoryOffset = Crafted.header(f).memoryOffset();
        try (Kvm kvm = Kvm.open(); FileChannel ch = new DelegatingChannel(FileChannel.open(f)) {
            private boolean changed;

            @Override
            public int read(ByteBuffer dst, long position) throws IOException {
                int n = real.read(dst, position);
                if (position >= memoryOffset && !changed) {
                    try (FileChannel w = FileChannel.open(f, StandardOpenOption.WRITE)) {
                        w.write(ByteBuffer.wrap(new byte[] {0x42}), memoryOffset + (3 << 20) + 17);
                    }
                    changed = true;
                }
                return n;
            }
        }) {
            ContextFormatException e = assertThrows(ContextFormatException.class,
                    () -> Snapshot.restore(kvm, ch, f, OutputStream.nullOutputStream()).close());
            assertTrue(e.getMessage().contains("memory checksum"), e.getMessage());
        }
    }

    /**
     * Once restored, the guest owes the file nothing: truncating it and filling it with garbage
     * changes neither the guest's run nor what the JVM reads of its memory.
     */
    @Test
    void truncatingOrRewritingTheFileUnderARunningRestoreDoesNotDisturbIt() throws Exception {
        Path f = copy("running.snap");
        ByteArrayOutputStream after = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Snapshot.restore(kvm, f, after)) {
            try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
                r.setLength(0);
                r.write(new byte[8192]);
            }
            long nonZero = 0;
            for (long at = 0; at < m.ram().size(); at += 4096) {
                nonZero += m.ram().isZero(at, 4096) ? 0 : 1; // every page touched by the JVM: no SIGBUS
            }
            assertTrue(nonZero > 0);
            RunResult r = m.run(Duration.ofSeconds(60));
            assertTrue(r.succeeded(), r.detail());
        }
        assertEquals(uninterrupted, before + after);
    }

    private static Path copy(String name) throws IOException {
        return Files.copy(good, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }

    private static long memfds() throws IOException {
        long n = 0;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                try {
                    n += Files.readSymbolicLink(p).toString().startsWith("/memfd:") ? 1 : 0;
                } catch (IOException e) {
                    // the listing's own descriptor, closed by now
                }
            }
        }
        return n;
    }

    /** Refused by both inspect and restore, with {@code fragment} in the message. */
    private static void assertRefused(Path file, String fragment) throws IOException {
        assertMessage(() -> Snapshot.inspect(file), fragment);
        try (Kvm kvm = Kvm.open()) {
            assertMessage(() -> Snapshot.restore(kvm, file, OutputStream.nullOutputStream()).close(), fragment);
        }
    }

    private static void assertMessage(Executable call, String fragment) {
        ContextFormatException e = assertThrows(ContextFormatException.class, call);
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
    }
}
