package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

/** A guest stopped mid-run, saved, and continued in a fresh process; damaged files are refused. */
class SnapshotTest {
    private static final long ITERATIONS = 1500;

    @TempDir
    static Path dir;
    private static Path snapshot;
    private static String before;
    private static String uninterrupted;

    @BeforeAll
    static void takeSnapshot() throws Exception {
        KvmAvailable.assumeKvm();
        ByteArrayOutputStream full = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", full, false, ITERATIONS)) {
            assertTrue(m.run(Duration.ofSeconds(60)).succeeded());
        }
        uninterrupted = full.toString();

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        snapshot = dir.resolve("guest.snap");
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", out, false, ITERATIONS)) {
            Thread stopper = new Thread(() -> {
                try {
                    Thread.sleep(150);
                } catch (InterruptedException e) {
                    return;
                }
                m.requestStop();
            });
            stopper.start();
            RunResult r = m.run(Duration.ofSeconds(60));
            stopper.join();
            assertEquals(Outcome.STOPPED, r.outcome(), "stopped mid-computation: " + r.detail());
            List<Long> progress = new ArrayList<>();
            long size = Snapshot.write(m, snapshot, progress::add);
            assertEquals(List.of(m.ram().size()), progress);
            assertTrue(Files.size(snapshot) >= m.ram().size(), "full length");
            assertTrue(size > 0);
        }
        before = out.toString();
        assertFalse(before.contains("checksum="), "the snapshot was taken before the guest finished");
    }

    @Test
    void aFreshProcessContinuesTheGuestExactly() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), "dev.kvmctl.cli.Main", "restore", snapshot.toString())
                .redirectErrorStream(false).start();
        String after = new String(p.getInputStream().readAllBytes());
        String err = new String(p.getErrorStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        assertEquals(uninterrupted, before + after, "console output continues exactly where it stopped");
    }

    @Test
    void inspectReadsTheHeader() {
        Snapshot.Info info = Snapshot.inspect(snapshot);
        assertEquals("sse-compute.elf", info.name());
        assertEquals(CpuMode.LONG, info.mode());
        assertEquals(3, info.ring());
        assertEquals(GuestConfig.DEFAULT_MEMORY, info.memorySize());
        assertEquals(ITERATIONS, info.args()[0]);
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
            assertEquals(new String(ram), new String(small.ram().read(0x100000, 4096)), "its memory is untouched");
        }
    }

    @Test
    void restoringIntoAMatchingMachineWorks() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine target = Guests.boot(kvm, "hello-long.elf", out, false)) {
            Snapshot.restoreInto(target, snapshot);
            assertTrue(target.run(Duration.ofSeconds(60)).succeeded());
            assertEquals(Guests.line(uninterrupted, "checksum="), Guests.line(out.toString(), "checksum="));
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
