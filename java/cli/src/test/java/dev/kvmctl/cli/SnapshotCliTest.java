package dev.kvmctl.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import dev.kvmctl.Tmpfs;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code launch --snapshot} and {@code restore} on paths and files that cannot serve: a bad
 * destination is bad input (status 2) before the guest starts; an I/O error while writing is
 * status 1 with one message naming the file; never "unexpected error" or a stack trace.
 */
class SnapshotCliTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** spin.elf never ends, so it is always running when --snapshot-after stops it, however fast this host is. */
    private static Cli launchSpin(Path snapshot, String... more) {
        List<String> args = new ArrayList<>(List.of("launch", "--image", "spin.elf", "--snapshot-after", "1ms",
                "--snapshot", snapshot.toString()));
        args.addAll(List.of(more));
        return Cli.run(args.toArray(String[]::new));
    }

    /** A bad destination is refused before KVM is even opened, let alone a guest run. */
    @Test
    void aDestinationThatCannotTakeTheFileIsBadInputBeforeTheGuestStarts() throws Exception {
        Path fifo = dir.resolve("fifo");
        Process mk = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start();
        KvmAvailable.require(mk.waitFor() == 0, "mkfifo is not available");
        List<String[]> cases = new ArrayList<>();
        cases.add(new String[] {dir.resolve("missing").resolve("guest.snap").toString(), "does not exist"});
        cases.add(new String[] {dir.toString(), "is a directory"});
        cases.add(new String[] {fifo.toString(), "not a regular file"});
        cases.add(new String[] {"/dev/full", "not a regular file"});
        for (String[] c : cases) {
            // With no KVM device at that path, a check made after the guest had started would
            // never be reached: the run would end with the device error (status 1) instead.
            Cli r = launchSpin(Path.of(c[0]), "--device", dir.resolve("no-kvm").toString());
            assertEquals(Main.USAGE_ERROR, r.status(), c[0] + ": " + r.err());
            assertFalse(r.out().contains("spinning"), c[0] + ": the guest must not have started");
            assertEquals(1, r.err().strip().split("\n").length, c[0] + ": one line: " + r.err());
            assertTrue(r.err().startsWith("kvmctl: ") && r.err().contains(c[1]), c[0] + ": " + r.err());
        }
        assertTrue(Files.exists(fifo) && !Files.isRegularFile(fifo), "the FIFO is untouched");
    }

    @Test
    void aFullDiskIsAnIoErrorThatNamesTheFileAndKeepsThePreviousOne() throws Exception {
        Path mnt = Files.createDirectory(dir.resolve("mnt"));
        try (Tmpfs fs = Tmpfs.mount(mnt, "4m")) {
            Path f = mnt.resolve("guest.snap");
            Cli first = launchSpin(f);
            assertEquals(0, first.status(), first.err());
            byte[] previous = Files.readAllBytes(f);
            fs.fill("filler");
            Cli r = launchSpin(f);
            assertEquals(Main.KVM_ERROR, r.status(), r.err());
            assertTrue(r.err().contains("kvmctl: could not write snapshot " + f + ": No space left on device; the previous "
                    + f + " is unchanged"), r.err());
            assertFalse(r.err().contains("unexpected error") || r.err().contains("\tat "), "no stack trace: " + r.err());
            assertArrayEquals(previous, Files.readAllBytes(f));
        }
    }

    @Test
    void restoringWhatIsNotASnapshotIsBadInputWithAMessage() throws Exception {
        Path garbage = Files.write(dir.resolve("garbage.snap"), new byte[4096]);
        Path empty = Files.write(dir.resolve("empty.snap"), new byte[0]);
        String[][] cases = {
            {dir.resolve("missing.snap").toString(), "no snapshot file"},
            {dir.toString(), "not a regular file"},
            {"/dev/full", "not a regular file"},
            {garbage.toString(), "not a kvmctl snapshot"},
            {empty.toString(), "truncated"},
        };
        for (String[] c : cases) {
            Cli r = Cli.run("restore", c[0]);
            assertEquals(Main.USAGE_ERROR, r.status(), c[0] + ": " + r.err());
            assertEquals(1, r.err().strip().split("\n").length, c[0] + ": one line: " + r.err());
            assertTrue(r.err().contains(c[1]), c[0] + ": " + r.err());
        }
    }

    /** A snapshot written by the CLI, cut short: refused as truncated, naming the file. */
    @Test
    void restoringATruncatedSnapshotIsBadInput() throws Exception {
        Path f = dir.resolve("cut.snap");
        assertEquals(0, launchSpin(f).status());
        try (RandomAccessFile r = new RandomAccessFile(f.toFile(), "rw")) {
            r.setLength(r.length() - 4096);
        }
        Cli r = Cli.run("restore", f.toString());
        assertEquals(Main.USAGE_ERROR, r.status(), r.err());
        assertTrue(r.err().contains(f + " is truncated"), r.err());
    }

    /**
     * {@code launch --snapshot FILE --diff-base BASE} writes a diff that {@code restore BASE FILE}
     * continues; a base that cannot serve (missing, the destination itself, of another memory
     * size, without --snapshot) is bad input before KVM is opened, and the base is left as it was.
     */
    @Test
    void aDiffSnapshotFromTheCommandLineRestoresOnItsBaseAndABadBaseIsRefusedFirst() throws Exception {
        Path base = dir.resolve("base.snap");
        Path diff = dir.resolve("guest.diff");
        Cli first = launchSpin(base, "--mem", "16M");
        assertEquals(0, first.status(), first.err());
        Cli second = launchSpin(diff, "--mem", "16M", "--diff-base", base.toString(), "--json");
        assertEquals(0, second.status(), second.err());
        assertTrue(second.out().contains("\"diff_base\":\"" + base + "\""), second.out());
        Cli restored = Cli.run("restore", "--json", "--timeout", "20ms", base.toString(), diff.toString());
        assertEquals(124, restored.status(), "spin runs until --timeout stops it: " + restored.err());
        assertTrue(restored.out().contains("\"diffs\":[\"" + diff + "\"]") && restored.out().contains("\"verified\":true"),
                restored.out());

        byte[] before = Files.readAllBytes(base);
        String noKvm = dir.resolve("no-kvm").toString(); // a check made after KVM was opened would fail on this instead
        String[][] cases = {
            {base.toString(), base.toString(), "16M", "the same file"},
            {dir.resolve("other.diff").toString(), dir.resolve("missing.snap").toString(), "16M", "does not exist"},
            {dir.resolve("other.diff").toString(), dir.toString(), "16M", "is not a regular file"},
            {dir.resolve("other.diff").toString(), base.toString(), "32M", "was taken from a machine with 16777216 bytes of RAM"},
        };
        for (String[] c : cases) {
            Cli r = launchSpin(Path.of(c[0]), "--mem", c[2], "--diff-base", c[1], "--device", noKvm);
            assertEquals(Main.USAGE_ERROR, r.status(), c[3] + ": " + r.err());
            assertTrue(r.err().startsWith("kvmctl: ") && r.err().contains(c[3]), c[3] + ": " + r.err());
        }
        Cli alone = Cli.run("launch", "--image", "spin.elf", "--diff-base", base.toString(), "--device", noKvm);
        assertEquals(Main.USAGE_ERROR, alone.status(), alone.err());
        assertTrue(alone.err().contains("--diff-base goes with --snapshot"), alone.err());
        assertArrayEquals(before, Files.readAllBytes(base), "the base is unchanged");
        assertFalse(Files.exists(dir.resolve("other.diff")));
    }
}
