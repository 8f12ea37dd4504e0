package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line in-process ({@code Main.run}) fed malformed options and hostile image files:
 * bad input must give exit status 2, a KVM failure 1, and neither may escape as an uncaught
 * exception or be reported as Main's "unexpected error"; bad input never gives 0.
 *
 * <p>{@code -Dkvmctl.fuzz.seed=N} repeats a run; {@code -Dkvmctl.fuzz.scale=K} multiplies the tries.
 */
class FuzzCliTest {
    static final long SEED = Long.getLong("kvmctl.fuzz.seed", System.nanoTime());
    static final int SCALE = Integer.getInteger("kvmctl.fuzz.scale", 1);
    private static final Set<Integer> BAD_INPUT = Set.of(2);
    private static final Set<Integer> BAD_INPUT_OR_KVM = Set.of(1, 2);

    @TempDir
    static Path dir;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
        System.out.println("fuzz: FuzzCliTest seed " + SEED + " (-Dkvmctl.fuzz.seed to repeat)");
    }

    private static CliRun expect(Set<Integer> allowed, Tally tally, String... args) {
        CliRun r = CliRun.of(args);
        tally.add("status " + r.status());
        String cmd = String.join(" ", args);
        assertFalse(r.unexpectedError(), cmd + ": Main reported an unexpected error:\n" + r.err());
        assertTrue(allowed.contains(r.status()), cmd + ": exit status " + r.status() + ", expected one of " + allowed
                + "\nstdout: " + r.out() + "\nstderr: " + r.err());
        return r;
    }

    @Test
    void malformedOptions() throws IOException {
        Tally tally = new Tally("CLI malformed options");
        Path empty = Files.createFile(dir.resolve("empty.bin"));
        byte[] hello = BuiltinImages.bytes(BuiltinImages.find("hello-long.elf").orElseThrow());
        Path truncated = Files.write(dir.resolve("truncated.elf"), Arrays.copyOf(hello, 100));
        Path headerOnly = Files.write(dir.resolve("header.elf"), Arrays.copyOf(hello, 64));
        Path magicOnly = Files.write(dir.resolve("magic.elf"), Arrays.copyOf(hello, 4));
        String[] image = {"--image", "hello-long", "--timeout", "10s"};
        String[][] bad = {
            {"--mem", "12Q"}, {"--mem", "0"}, {"--mem", "-1"}, {"--mem", "4097"}, {"--mem", "1.5G"}, {"--mem", ""},
            {"--mem", "99999999999999999999"}, {"--mem", "9999999999T"}, {"--mem", "200G"}, {"--mem", "1M"}, {"--mem", "16 M B"},
            {"--ring", "7"}, {"--ring", "-1"}, {"--ring", "1"}, {"--ring", "x"}, {"--ring", "99999999999"},
            {"--mode", "bogus"}, {"--mode", ""}, {"--mode", "REALLY"},
            {"--timeout", "-1"}, {"--timeout", "soon"}, {"--timeout", "1e9h"}, {"--timeout", "99999999999999h"}, {"--timeout", "5 fortnights"},
            {"--arg", "1", "--arg", "2", "--arg", "3", "--arg", "4", "--arg", "5"}, {"--arg", "0xzz"}, {"--arg", "1x"},
            {"--load-addr", "nowhere"}, {"--entry", "0x"}, {"--quantum", "-5ms", "--one-thread"},
            {"--quantum", "0", "--one-thread"}, {"--switch", "lukewarm", "--one-thread"},
            {"--snapshot", "x.snap"}, {"--snapshot-after", "1s"}, {"--bogus-option"}, {"--json=maybe"},
        };
        for (String[] opts : bad) {
            List<String> args = new ArrayList<>(List.of("launch"));
            args.addAll(Arrays.asList(image));
            args.addAll(Arrays.asList(opts));
            expect(BAD_INPUT, tally, args.toArray(String[]::new));
        }
        String[][] badImages = {
            {"launch", "--image", dir.resolve("does-not-exist").toString()},
            {"launch", "--image", dir.toString()},
            {"launch", "--image", empty.toString()},
            {"launch", "--image", truncated.toString()},
            {"launch", "--image", headerOnly.toString()},
            {"launch", "--image", magicOnly.toString()},
            {"launch", "--image", "hello-real", "--ring", "3"},
            {"launch", "--image", "hello-real", "--mem", "4K"},
            {"launch", "--image", empty.toString(), "--mode", "real"},
            {"launch", "--image", "hello-real", "--mode", "real", "--entry", "0x100000"},
            {"launch", "--image", "hello-real", "--load-addr", "0xffffffffffffffff"},
            {"launch", "--image"},
            {"launch", "--messages", "-5"}, {"launch", "--max-message", "0"}, {"launch", "--shared-size", "1"},
            {"restore", dir.resolve("nope.snap").toString()}, {"restore", dir.toString()}, {"restore", empty.toString()},
            {"restore", truncated.toString()}, {"restore"},
            {"no-such-command"}, {"info", "--bogus"}, {"images", "extra", "args"},
        };
        for (String[] args : badImages) {
            expect(BAD_INPUT, tally, args);
        }
        // Absurd but well-formed: the host refuses (1) or kvmctl does (2).
        expect(BAD_INPUT_OR_KVM, tally, "launch", "--image", "hello-long", "--mem", "100T", "--timeout", "5s");
        expect(BAD_INPUT_OR_KVM, tally, "launch", "--image", "hello-long", "--mem", "8E", "--timeout", "5s");
        // Not a KVM device: a KVM error.
        expect(Set.of(1), tally, "launch", "--image", "hello-long", "--device", "/dev/null");
        expect(Set.of(1), tally, "launch", "--image", "hello-long", "--device", dir.resolve("kvm").toString());
        expect(Set.of(1), tally, "info", "--device", "/dev/null");
        tally.print();
    }

    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmgt]?)(i?b)?", Pattern.CASE_INSENSITIVE);
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ns|us|ms|s|m|h)?", Pattern.CASE_INSENSITIVE);

    /** Random tokens for sizes, durations, rings and modes; the ones no parser could accept must give 2. */
    @Test
    void randomOptionValues() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Tally tally = new Tally("CLI random option values");
        String alphabet = "0123456789kKmMgGtTiIbBsShH .-+xQ_e";
        for (int i = 0; i < 150 * SCALE; i++) {
            StringBuilder token = new StringBuilder();
            for (int k = 0, n = rnd.nextInt(10); k < n; k++) {
                token.append(alphabet.charAt(rnd.nextInt(alphabet.length())));
            }
            String t = token.toString();
            switch (rnd.nextInt(4)) {
                case 0 -> {
                    // A size the CLI may accept only if it is a positive multiple of 4 KiB big enough for the image.
                    boolean canParse = SIZE.matcher(t.trim()).matches();
                    CliRun r = expect(canParse ? Set.of(0, 1, 2) : BAD_INPUT, tally,
                            "launch", "--image", "hello-long", "--mem", t, "--timeout", "5s");
                    if (r.status() == 0) {
                        long bytes = sizeOf(t);
                        assertTrue(bytes % 4096 == 0 && bytes >= (2 << 20), "--mem " + t + " (" + bytes + " bytes) ran the guest");
                    }
                }
                case 1 -> expect(DURATION.matcher(t.trim()).matches() ? Set.of(0, 2, 124) : BAD_INPUT, tally,
                        "launch", "--image", "hello-long", "--timeout", t);
                case 2 -> {
                    int ring = rnd.nextInt(3) == 0 ? rnd.nextInt() : rnd.nextInt(-3, 10);
                    expect(ring == 0 || ring == 3 ? Set.of(0) : BAD_INPUT, tally,
                            "launch", "--image", "hello-long", "--ring", Integer.toString(ring), "--timeout", "10s");
                }
                default -> {
                    boolean valid = t.equalsIgnoreCase("real") || t.equalsIgnoreCase("long");
                    expect(valid ? Set.of(0, 2, 124, 125) : BAD_INPUT, tally, // hello-long in real mode: 2
                            "launch", "--image", "hello-long", "--mode", rnd.nextBoolean() ? t : t + "mode", "--timeout", "2s");
                }
            }
        }
        tally.print();
    }

    private static long sizeOf(String t) {
        var m = SIZE.matcher(t.trim());
        assertTrue(m.matches());
        int shift = switch (m.group(2).toLowerCase()) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        return Long.parseLong(m.group(1)) << shift;
    }

    /**
     * Hostile image files: truncated and corrupted ELF images and random bytes, written to files and
     * launched. Whatever GuestImage refuses (our oracle, using the same parser) must give 2; the rest
     * runs and may end any way the guest chooses, but never as an unexpected error.
     */
    @Test
    void hostileImageFiles() throws IOException {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Tally tally = new Tally("CLI hostile image files");
        byte[] hello = BuiltinImages.bytes(BuiltinImages.find("hello-long.elf").orElseThrow());
        for (int i = 0; i < 80 * SCALE; i++) {
            byte[] image;
            switch (rnd.nextInt(3)) {
                case 0 -> image = Arrays.copyOf(hello, rnd.nextInt(hello.length + 1));
                case 1 -> {
                    image = hello.clone();
                    for (int k = 0, n = 1 + rnd.nextInt(8); k < n; k++) {
                        image[rnd.nextInt(rnd.nextBoolean() ? 64 + 56 * 4 : image.length)] ^= (byte) (1 + rnd.nextInt(255));
                    }
                }
                default -> {
                    image = new byte[rnd.nextInt(512)];
                    rnd.nextBytes(image);
                }
            }
            Path file = Files.write(dir.resolve("image-" + i + ".bin"), image);
            String mode = rnd.nextBoolean() ? "long" : "real";
            boolean refused;
            try {
                long load = "real".equals(mode) ? 0x7c00 : 0x100000;
                GuestImage g = GuestImage.parse(file.toString(), image, load, load);
                g.checkFits(16 << 20, "long".equals(mode) ? 0x1000 : 0, "long".equals(mode) ? 0xa0000 : 0);
                refused = image.length == 0 || ("real".equals(mode) && g.entry() >= 0x100000);
            } catch (IllegalArgumentException e) {
                refused = true;
            }
            String[] args = {"launch", "--image", file.toString(), "--mode", mode, "--timeout", "200ms"};
            if (refused) {
                expect(BAD_INPUT, tally, args);
            } else {
                // It runs: the guest may end with any status it likes (it may write one to port 0xf4).
                CliRun r = CliRun.of(args);
                tally.add("ran, status " + (r.status() == 124 || r.status() == 125 || r.status() == 0 ? r.status() : "other"));
                assertFalse(r.unexpectedError(), String.join(" ", args) + ": unexpected error\n" + r.err());
            }
            Files.delete(file);
        }
        tally.print();
    }

    // ---- bugs found by fuzzing: these fail until kvmctl refuses the input ----

    /**
     * {@code --image /dev/zero}: GuestImage.read checks the 1 GiB limit with Files.size (0 for a
     * device) and then reads until the heap runs out; the OutOfMemoryError escapes Main.run (a
     * stack trace, exit status 1) instead of a bad-input status 2. Child JVM with a small heap.
     */
    @Test
    void anEndlessDeviceAsImageIsBadInput() throws Exception {
        Isolated.Outcome o = Isolated.runMain(Duration.ofSeconds(60), List.of("-Xmx192m"), CliMain.class,
                "launch", "--image", "/dev/zero", "--timeout", "1s");
        assertFalse(o.timedOut(), o.describe());
        assertEquals(2, o.status(), "bad input: " + o.describe());
        assertFalse(o.output().contains("Exception in thread") || o.output().contains("OutOfMemoryError"), o.describe());
    }

    /**
     * {@code --image FIFO}: GuestImage.read opens a named pipe nobody writes to and blocks forever
     * instead of refusing a file that is not a regular file (status 2). Child JVM, killed after 10 s.
     */
    @Test
    void aNamedPipeAsImageIsBadInput() throws Exception {
        Path fifo = dir.resolve("pipe");
        boolean made;
        try {
            made = new ProcessBuilder("mkfifo", fifo.toString()).inheritIO().start().waitFor() == 0;
        } catch (java.io.IOException e) {
            made = false; // no mkfifo on PATH
        }
        dev.kvmctl.KvmAvailable.require(made, "mkfifo could not make a named pipe");
        Isolated.Outcome o = Isolated.runMain(Duration.ofSeconds(10), List.of(), CliMain.class,
                "launch", "--image", fifo.toString(), "--timeout", "1s");
        assertFalse(o.timedOut(), "a FIFO as image hangs: " + o.describe());
        assertEquals(2, o.status(), o.describe());
    }
}
