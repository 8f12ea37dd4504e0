package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A guest stopped mid-run, saved, and continued in a fresh process; damaged files are refused.
 *
 * <p>The guest is sse-compute.elf "until stopped" (see {@link Guests}): it never ends by itself, so
 * the host's stop always finds it computing, whatever the CPU's speed. Before the snapshot is
 * written the host sets the guest's stop word, so a restored guest finishes the iteration it was in
 * and prints its result, which must equal an uninterrupted run of the iterations it reports.
 */
class SnapshotTest {
    @TempDir
    static Path dir;
    private static Path snapshot;
    private static String before;

    @BeforeAll
    static void takeSnapshot() throws Exception {
        KvmAvailable.assumeKvm();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        snapshot = dir.resolve("guest.snap");
        try (Kvm kvm = Kvm.open(); Machine m = Guests.sseUntilStopped(kvm, out, false)) {
            // Stop it once it is inside its compute loop (where in the loop is left to chance).
            Thread stopper = new Thread(() -> {
                try {
                    while (!Guests.inLoop(out, Guests.SSE_COMPUTING)) {
                        Thread.sleep(1);
                    }
                } catch (InterruptedException e) {
                    return;
                }
                m.requestStop();
            });
            stopper.start();
            RunResult r = m.run(Duration.ofSeconds(60));
            stopper.interrupt();
            stopper.join();
            assertEquals(Outcome.STOPPED, r.outcome(), "stopped mid-computation: " + r.detail() + "\n" + out);
            Guests.stop(m); // the restored guest finishes its current iteration, then reports
            List<Long> progress = new ArrayList<>();
            long size = Snapshot.write(m, snapshot, progress::add);
            assertEquals(List.of(m.ram().size()), progress);
            assertTrue(Files.size(snapshot) >= m.ram().size(), "full length");
            assertTrue(size > 0);
        }
        before = out.toString();
        assertTrue(Guests.inLoop(out, Guests.SSE_COMPUTING) && before.indexOf('\n') == before.length() - 1,
                "the snapshot was taken inside the compute loop, before any result: " + before);
    }

    @Test
    void aFreshProcessContinuesTheGuestExactly() throws Exception {
        Restored r = restoreInAFreshProcess(snapshot, "--json");
        assertEquals(0, r.status, r.err);
        // The console continues exactly where it stopped: the start line before, the result after.
        int json = r.out.lastIndexOf("\n{\"name\"") + 1; // the report starts on its own line
        assertTrue(json > 0, r.out);
        SwitcherTest.assertSseResultExact(before + r.out.substring(0, json), "the restored guest's result");
        // It ran from memory loaded lazily, and every chunk was checked by the end.
        String report = r.out.substring(json);
        assertTrue(report.contains("\"lazy\":true") && report.contains("\"verified\":true"), report);
        assertTrue(report.matches("(?s).*\"restore_ms\":[0-9.]+.*") && report.matches("(?s).*\"verify_ms\":[0-9.]+.*"), report);
    }

    /** A byte changed in a chunk the guest uses: the restore ends with status 122 and says which chunk. */
    @Test
    void aCorruptedChunkEndsTheRestoreWithItsOwnStatus() throws Exception {
        Path corrupt = copy("chunk.snap");
        long memoryOffset;
        try (RandomAccessFile f = new RandomAccessFile(corrupt.toFile(), "r")) {
            f.seek(32);
            memoryOffset = Long.reverseBytes(f.readLong());
        }
        long at = memoryOffset;
        try (RandomAccessFile f = new RandomAccessFile(corrupt.toFile(), "r")) {
            f.seek(at);
            while (f.read() == 0) {
                at++; // the first non-zero byte of the image: the guest's code
            }
        }
        flip(corrupt, at);
        Restored r = restoreInAFreshProcess(corrupt);
        assertEquals(Outcome.CORRUPTED_STATUS, r.status, r.err);
        assertTrue(r.err.contains("does not match its checksum"), r.err);
    }

    /** {@code restore FILE DIFF}: the chain is restored; a diff given after a base it was not taken from is exit 2. */
    @Test
    void aFreshProcessRestoresABaseAndADiffAndRefusesAMismatchedBase() throws Exception {
        Path diff = dir.resolve("cli.diff");
        try (Kvm kvm = Kvm.open(); Machine m = LazyRestore.start(kvm, snapshot, new ByteArrayOutputStream()).machine()) {
            DiffSnapshot.write(m, snapshot, diff, done -> {});
        }
        Restored r = restoreInAFreshProcess(snapshot, diff.toString());
        assertEquals(0, r.status, r.err);
        SwitcherTest.assertSseResultExact(before + r.out, "the guest restored from the base and a diff");

        Path other = dir.resolve("other.snap");
        try (Kvm kvm = Kvm.open(); Machine hello = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long.elf"))
                .console(new Console(new ByteArrayOutputStream(), null)).build())) {
            Snapshot.write(hello, other, done -> {});
        }
        Restored wrong = restoreInAFreshProcess(other, diff.toString());
        assertEquals(2, wrong.status, wrong.err);
        assertTrue(wrong.err.contains("was not taken from " + other), wrong.err);
    }

    private record Restored(int status, String out, String err) {}

    private static Restored restoreInAFreshProcess(Path file, String... options) throws Exception {
        List<String> command = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.kvmctl.cli.Main", "restore"));
        command.add(file.toString());
        command.addAll(List.of(options));
        Process p = new ProcessBuilder(command).start();
        java.util.concurrent.CompletableFuture<byte[]> err = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return p.getErrorStream().readAllBytes();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new Restored(p.exitValue(), out, new String(err.get()));
    }

    @Test
    void inspectReadsTheHeader() {
        Snapshot.Info info = Snapshot.inspect(snapshot);
        assertEquals("sse-compute.elf", info.name());
        assertEquals(CpuMode.LONG, info.mode());
        assertEquals(3, info.ring());
        assertEquals(GuestConfig.DEFAULT_MEMORY, info.memorySize());
        assertEquals(0, info.args()[0], "iterations: until stopped");
        assertEquals(Guests.STOP_WORD, info.args()[2], "the stop word's address");
    }

    @Test
    void damagedFilesAreRefusedBeforeAnythingHappens() throws IOException {
        long length = Files.size(snapshot);
        Path truncated = copy("truncated.snap");
        try (RandomAccessFile f = new RandomAccessFile(truncated.toFile(), "rw")) {
            f.setLength(length - 4096);
        }
        assertMessage(truncated, "truncated");

        Path headerOnly = copy("short.snap");
        try (RandomAccessFile f = new RandomAccessFile(headerOnly.toFile(), "rw")) {
            f.setLength(30);
        }
        assertMessage(headerOnly, "truncated");

        Path memory = copy("memory.snap");
        flip(memory, length - 8192);
        assertMessage(memory, "memory checksum");

        Path metadata = copy("metadata.snap");
        flip(metadata, 200);
        assertMessage(metadata, "metadata checksum");

        Path version = copy("version.snap");
        try (RandomAccessFile f = new RandomAccessFile(version.toFile(), "rw")) {
            f.seek(8);
            f.write(new byte[] {9, 0, 0, 0});
        }
        assertMessage(version, "version 9");

        Path foreign = dir.resolve("foreign.snap");
        Files.write(foreign, new byte[4096]);
        assertMessage(foreign, "not a kvmctl snapshot");
    }

    @Test
    void restoringIntoAMachineOfAnotherSizeIsRefused() {
        try (Kvm kvm = Kvm.open();
             Machine small = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long.elf"))
                     .memorySize(8 << 20).console(new Console(new ByteArrayOutputStream(), null)).build())) {
            byte[] ram = small.ram().read(0x100000, 4096);
            ContextFormatException e = assertThrows(ContextFormatException.class, () -> Snapshot.restoreInto(small, snapshot));
            assertTrue(e.getMessage().contains("refusing"), e.getMessage());
            assertArrayEquals(ram, small.ram().read(0x100000, 4096), "its memory is untouched");
        }
    }

    @Test
    void restoringIntoAMatchingMachineWorks() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine target = Guests.boot(kvm, "hello-long.elf", out, false)) {
            Snapshot.restoreInto(target, snapshot);
            assertTrue(target.run(Duration.ofSeconds(60)).succeeded(), out.toString());
            SwitcherTest.assertSseResultExact(before + out, "the guest restored into a running machine");
        }
    }

    private static Path copy(String name) throws IOException {
        Path p = dir.resolve(name);
        Files.copy(snapshot, p, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        return p;
    }

    private static void flip(Path file, long at) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
            f.seek(at);
            int b = f.read();
            f.seek(at);
            f.write(b ^ 0x5a);
        }
    }

    private static void assertMessage(Path file, String fragment) {
        ContextFormatException e = assertThrows(ContextFormatException.class, () -> Snapshot.inspect(file));
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
    }
}
