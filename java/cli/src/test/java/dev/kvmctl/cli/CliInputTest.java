package dev.kvmctl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.TestFiles;
import dev.kvmctl.guests.devices.Console;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What a user can give the command line: every unusable file, size, duration or combination is
 * refused before anything runs, with exit status 2 and one line on stderr; an I/O error gives 1
 * and names the file; a guest's console output cannot reach the terminal raw or unbounded, and
 * the {@code --json} report always starts on a line of its own.
 */
class CliInputTest {
    @TempDir
    static Path dir;

    /** Exit status 2, exactly one line on stderr that starts with "kvmctl: ", no guest output, no bug report. */
    private static Cli refused(String... args) {
        Cli r = Cli.run(args);
        String cmd = String.join(" ", args);
        assertEquals(2, r.status(), cmd + ": " + r.describe());
        assertEquals(1, r.errLines().size(), cmd + ": not one line: " + r.describe());
        assertTrue(r.err().startsWith("kvmctl: "), cmd + ": " + r.describe());
        assertFalse(r.err().contains("unexpected error"), cmd + ": " + r.describe());
        assertEquals("", r.out(), cmd + ": something ran: " + r.describe());
        return r;
    }

    private static String[] launch(String... options) {
        List<String> args = new ArrayList<>(List.of("launch", "--image", "hello-long"));
        args.addAll(Arrays.asList(options));
        return args.toArray(String[]::new);
    }

    @Test
    void badSizesAreRefusedWithWhatToDo() {
        String[][] cases = {
            {"--mem", "0"}, {"--mem", "4097"}, {"--mem", "-1"}, {"--mem", "12Q"}, {"--mem", ""}, {"--mem", "1.5G"},
            {"--mem", "99999999999999999999"}, {"--mem", "9999999999T"}, {"--mem", "200G"}, {"--mem", "100T"},
            {"--shared-size", "0"}, {"--shared-size", "4097"}, {"--shared-size", "200G"},
            {"--shared-size", "8M", "--mem", "8G"},
            {"--load-addr", "0xffffffffffffffff"}, {"--load-addr", "0x1000000"}, {"--entry", "-1"}, {"--entry", "0x"},
            {"--arg", "1", "--arg", "2", "--arg", "3", "--arg", "4", "--arg", "5"}, {"--arg", "0xzz"},
        };
        for (String[] c : cases) {
            refused(launch(c));
        }
        assertTrue(refused(launch("--mem", "4097")).err().contains("multiple of 4K"));
        assertTrue(refused(launch("--mem", "100T")).err().contains("at most"));
        refused("launch", "--shared-size", "1");
        refused("launch", "--max-message", "0");
        refused("launch", "--messages", "-5");
        // The guests would read 0 as their default of 1000 and the demo would then fail.
        assertTrue(refused("launch", "--messages", "0").err().contains("--messages must be at least 1"));
    }

    @Test
    void badDurationsAreRefused() {
        String[][] cases = {
            {"--timeout", "-1"}, {"--timeout", "soon"}, {"--timeout", "0.1ns"}, {"--timeout", "99999999999999h"},
            {"--timeout", "1e9h"}, {"--timeout", "5 fortnights"},
            {"--one-thread", "--quantum", "0"}, {"--one-thread", "--quantum", "-5ms"}, {"--one-thread", "--quantum", "1us"},
            {"--snapshot", dir.resolve("s").toString(), "--snapshot-after", "0"},
            {"--snapshot", dir.resolve("s").toString(), "--snapshot-after", "2m"},
            {"--snapshot", dir.resolve("s").toString(), "--snapshot-after", "5s", "--timeout", "5s"},
        };
        for (String[] c : cases) {
            refused(launch(c));
        }
        assertTrue(refused(launch("--timeout", "0.1ns")).err().contains("less than 1ns"), "0.1ns must not become 'no limit'");
        refused("restore", "--timeout", "0.1ns", dir.resolve("s").toString());
    }

    @Test
    void optionsThatDoNotApplyAreRefused() {
        refused(launch("--quantum", "5ms"));                  // no --one-thread
        refused(launch("--switch", "cold"));
        refused(launch("--one-thread", "--switch", "lukewarm"));
        refused(launch("--one-thread", "--threads"));
        refused(launch("--messages", "5"));                   // demo options with an image
        refused(launch("--poll"));
        refused(launch("--ring", "1"));
        refused(launch("--mode", "bogus"));
        refused("launch", "--ring", "3");                     // image options in the demo
        refused("launch", "--irqchip");
        refused("launch", "--threads", "--quantum", "5ms");
        refused("launch", "--bogus-option");
        refused("launch", "--image");
        refused("no-such-command");
        assertTrue(refused(launch("--quantum", "5ms")).err().contains("--one-thread"));
        // Quotas limit a shared region: an --image guest without --shared-size has none.
        assertTrue(refused(launch("--quota-blocks", "4")).err().contains("add --shared-size or remove --quota-blocks"));
        assertTrue(refused(launch("--quota-bytes", "64K")).err().contains("add --shared-size or remove --quota-bytes"));
    }

    @Test
    void badVcpuCountsAreRefusedWithWhatToDo() {
        for (String n : new String[] {"0", "-1", "33", "two", ""}) {
            refused(launch("--cpus", n));
        }
        assertTrue(refused(launch("--cpus", "33")).err().contains("--cpus must be 1 to 32, not 33"));
        assertTrue(refused("launch", "--image", "hello-real", "--cpus", "2").err().contains("SMP guests boot in long mode only"));
        assertTrue(refused(launch("--cpus", "32", "--mem", "2M")).err().contains("give a larger --mem"));
        assertTrue(refused("launch", "--cpus", "2").err().contains("applies to --image guests"));
    }

    /**
     * A guest that maps a shared region cannot be saved: refused up front, not after --snapshot-after.
     * No KVM device at the given path, so a check made after the guest had started would end in
     * the device error (status 1) instead; {@link #refused} also sees no guest output.
     */
    @Test
    void aSnapshotOfAGuestWithASharedRegionIsRefusedBeforeItRuns() {
        Cli r = refused(launch("--shared-size", "8M", "--snapshot", dir.resolve("shared.snap").toString(),
                "--snapshot-after", "1s", "--device", dir.resolve("no-kvm").toString()));
        assertTrue(r.err().contains("remove --shared-size or --snapshot"), r.describe());
        assertFalse(Files.exists(dir.resolve("shared.snap")), "no snapshot written");
    }

    @Test
    void filesThatAreNotImagesAreRefusedBeforeAnythingRuns() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.bin"));
        Path zeroLink = Files.createSymbolicLink(dir.resolve("zero-link"), Path.of("/dev/zero"));
        Path big = dir.resolve("big.bin");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(32 << 20); // sparse: larger than 16 MiB of RAM
        }
        refused("launch", "--image", dir.resolve("missing").toString());
        refused("launch", "--image", dir.toString());
        refused("launch", "--image", empty.toString());
        refused("launch", "--image", "/dev/null");
        refused("launch", "--image", zeroLink.toString());
        Files.delete(zeroLink);
        assertTrue(refused("launch", "--image", big.toString(), "--mode", "real").err().contains("--mem"));
        refused("launch", "--image", "hello-long", "--image", dir.toString()); // the second image, before the first VM runs
        Path socket = dir.resolve("socket");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            assertTrue(refused("launch", "--image", socket.toString()).err().contains(socket.toString()));
        }
    }

    /** A FIFO nobody writes to used to hang launch in open(2); now it is refused at once. Child JVM, killed at 60 s. */
    @Test
    void aNamedPipeIsRefusedWithoutHanging() throws Exception {
        Path fifo = TestFiles.mkfifo(dir.resolve("pipe"));
        Cli r = Cli.child(Duration.ofSeconds(60), List.of(), "launch", "--image", fifo.toString(), "--timeout", "1s");
        assertFalse(r.killed(), "a FIFO as image hangs: " + r.describe());
        assertEquals(2, r.status(), r.describe());
        assertTrue(r.err().contains("named pipe") && r.err().contains(fifo.toString()), r.describe());
    }

    /** /dev/zero used to be read until the heap ran out; with a 64 MiB heap any unbounded read fails fast. */
    @Test
    void anEndlessDeviceIsRefusedWithoutReadingIt() throws Exception {
        Cli r = Cli.child(Duration.ofSeconds(60), List.of("-Xmx64m"), "launch", "--image", "/dev/zero", "--timeout", "1s");
        assertEquals(2, r.status(), r.describe());
        assertTrue(r.err().contains("/dev/zero is a character device"), r.describe());
        assertFalse(r.err().contains("OutOfMemoryError") || r.err().contains("Exception in thread"), r.describe());
    }

    @Test
    void anIoErrorIsStatus1AndNamesTheFile() {
        Cli r = Cli.run("launch", "--image", "/proc/self/mem"); // regular, but reading offset 0 gives EIO
        assertEquals(1, r.status(), r.describe());
        assertEquals(1, r.errLines().size(), r.describe());
        assertTrue(r.err().contains("/proc/self/mem") && r.err().contains("EIO"), r.describe());
        assertFalse(r.err().contains("unexpected error"), r.describe());
    }

    /**
     * A real-mode guest that writes ESC [2J, a raw C1 CSI (0x9b), then 5,000 'A's and no
     * newline, and halts: mov dx,0x3f8; (mov al,b; out dx,al) x5; mov cx,5000; mov al,'A';
     * l: out dx,al; loop l; hlt.
     */
    private static Path hostileConsoleGuest() throws IOException {
        byte[] code = {
            (byte) 0xba, (byte) 0xf8, 0x03,
            (byte) 0xb0, 0x1b, (byte) 0xee, (byte) 0xb0, '[', (byte) 0xee, (byte) 0xb0, '2', (byte) 0xee,
            (byte) 0xb0, 'J', (byte) 0xee, (byte) 0xb0, (byte) 0x9b, (byte) 0xee,
            (byte) 0xb9, (byte) 0x88, 0x13, (byte) 0xb0, 'A', (byte) 0xee, (byte) 0xe2, (byte) 0xfd, (byte) 0xf4,
        };
        Path file = dir.resolve("hostile-console.bin");
        return Files.exists(file) ? file : Files.write(file, code);
    }

    private static void assertTerminalSafe(String out, int prefixLength) {
        for (String line : out.split("\n")) {
            assertTrue(line.length() <= prefixLength + Console.MAX_LINE, "a line of " + line.length() + " characters");
            for (int i = 0; i < line.length(); i++) {
                char c = line.charAt(i);
                assertTrue(c == '\t' || (c >= 0x20 && c != 0x7f && (c < 0x80 || c > 0x9f)),
                        "raw control character U+" + Integer.toHexString(c) + " reached stdout");
            }
        }
    }

    @Test
    void aGuestsControlCharactersAreEscapedAndItsLinesBoundedAndTheReportStartsOnItsOwnLine() throws IOException {
        KvmAvailable.assumeKvm();
        Cli r = Cli.run("launch", "--image", hostileConsoleGuest().toString(), "--mode", "real", "--json", "--timeout", "60s");
        assertEquals(0, r.status(), r.describe());
        assertTerminalSafe(r.out(), 0);
        String[] lines = r.out().split("\n");
        assertEquals(3, lines.length, r.describe()); // 4-byte escapes x2, "[2J", 5,000 'A's split at 4,096; then the report
        assertEquals("\\x1b[2J\\x9b" + "A".repeat(Console.MAX_LINE - 11), lines[0]);
        assertEquals("A".repeat(5000 - (Console.MAX_LINE - 11)), lines[1]);
        JsonObject report = JsonParser.parseString(lines[2]).getAsJsonObject();
        assertEquals("halted", report.get("outcome").getAsString());
        assertTrue(r.out().endsWith("}\n"));
    }

    @Test
    void severalGuestsShareTheTerminalLineByLineJustAsSafely() throws IOException {
        KvmAvailable.assumeKvm();
        String image = hostileConsoleGuest().toString();
        Cli r = Cli.run("launch", "--image", image, "--image", image, "--mode", "real", "--json", "--timeout", "60s");
        assertEquals(0, r.status(), r.describe());
        String prefix = "[hostile-console.bin] ";
        assertTerminalSafe(r.out(), prefix.length());
        String[] lines = r.out().split("\n");
        assertEquals(5, lines.length, r.describe());
        for (int i = 0; i < 4; i++) {
            assertTrue(lines[i].startsWith(prefix), lines[i]);
        }
        assertTrue(JsonParser.parseString(lines[4]).getAsJsonObject().has("vms"));
    }
}
