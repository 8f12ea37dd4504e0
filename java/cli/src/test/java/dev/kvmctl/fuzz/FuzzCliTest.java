package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.BuiltinImages;
import java.io.IOException;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The command line in-process ({@code Main.run}) fed malformed options, random option values and
 * hostile image files: bad input must give exit status 2 and say why, a KVM failure 1, and neither
 * may escape as an uncaught exception or be reported as Main's "unexpected error". What each value
 * means is known here independently of kvmctl's parsers (tables of units, {@link ImageOracle} for
 * images), and valid values must reach the guest: hello-long prints the RAM size and ring it got.
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

    // ---- random option values, each with the meaning it must have, known from tables here ----

    /** Size units and their power of two: the CLI's binary units, in the spellings it documents. */
    private static final Object[][] SIZE_UNITS = {
        {"", 0}, {"b", 0}, {"B", 0}, {"K", 10}, {"k", 10}, {"KB", 10}, {"KiB", 10}, {"kib", 10}, {"M", 20}, {"m", 20},
        {"MB", 20}, {"MiB", 20}, {"G", 30}, {"g", 30}, {"GiB", 30}, {"T", 40}, {"tb", 40},
    };
    /** Duration units and nanoseconds per unit; no unit is seconds; units are case-insensitive ("M" is minutes). */
    private static final Object[][] DURATION_UNITS = {
        {"", 1_000_000_000L}, {"s", 1_000_000_000L}, {"S", 1_000_000_000L}, {"ms", 1_000_000L}, {"MS", 1_000_000L},
        {"us", 1_000L}, {"ns", 1L}, {"m", 60_000_000_000L}, {"M", 60_000_000_000L}, {"h", 3_600_000_000_000L}, {"H", 3_600_000_000_000L},
    };
    /** Characters that make any size or duration token malformed wherever they are put inside it. */
    private static final String CORRUPTIONS = "xQ-+,_/e";
    private static final long MIB = 1L << 20;

    /** hello-long's console with {@code ram} bytes of RAM at {@code ring}: what it prints is known from its source. */
    static String helloText(int ring, long ram) {
        return "Hello from long mode, ring " + ring + "\nRAM: " + ram + " bytes (" + (ram >> 20) + " MiB)\n";
    }

    /** The RAM hello-long needs: up to the end of its highest segment, rounded up to a page (from its ELF headers). */
    static long helloNeeds() {
        byte[] hello = BuiltinImages.bytes(BuiltinImages.find("hello-long.elf").orElseThrow());
        long end = ImageOracle.of(hello, 0, 0).segments().stream().mapToLong(ImageOracle.Seg::end).max().orElseThrow();
        return (end + 4095) & -4096;
    }

    /** Inserts one of {@link #CORRUPTIONS} somewhere in {@code t}. */
    private static String corrupt(String t, SplittableRandom rnd) {
        int at = rnd.nextInt(t.length() + 1);
        return t.substring(0, at) + CORRUPTIONS.charAt(rnd.nextInt(CORRUPTIONS.length())) + t.substring(at);
    }

    /** A number of 1 to 25 digits, mostly small. */
    private static String digits(SplittableRandom rnd, int max) {
        return rnd.nextInt(8) == 0 ? new BigInteger(80, new java.util.Random(rnd.nextLong())).toString()
                : Integer.toString(rnd.nextInt(max + 1));
    }

    /**
     * Sizes, durations, rings and modes built from parts whose meaning is known here (digits, a
     * unit from {@link #SIZE_UNITS} or {@link #DURATION_UNITS}), some with a character that makes
     * them malformed. Malformed or out-of-range values must give 2 and say why; valid ones must run
     * hello-long, whose console then shows the RAM size and ring it was given.
     */
    @Test
    void randomOptionValues() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Tally tally = new Tally("CLI random option values");
        long needs = helloNeeds();
        int ran = 0;
        for (int i = 0; i < 150 * SCALE; i++) {
            switch (rnd.nextInt(4)) {
                case 0 -> {
                    Object[] unit = SIZE_UNITS[rnd.nextInt(SIZE_UNITS.length)];
                    int shift = (int) unit[1];
                    String number = shift >= 20 ? digits(rnd, shift == 20 ? 70 : 1) : shift == 10 ? digits(rnd, 70_000)
                            : Long.toString(rnd.nextBoolean() ? 4096L * rnd.nextInt(1, 16_000) : rnd.nextLong(70 * MIB));
                    String t = number + (rnd.nextInt(4) == 0 ? " " : "") + unit[0];
                    boolean malformed = rnd.nextInt(5) == 0;
                    if (malformed) {
                        t = corrupt(t, rnd);
                    }
                    BigInteger bytes = new BigInteger(number).shiftLeft(shift);
                    String[] args = {"launch", "--image", "hello-long", "--mem", t, "--timeout", "20s"};
                    if (malformed) {
                        expectRefusal(tally, "is not a size", args);
                    } else if (bytes.bitLength() > 63) {
                        expectRefusal(tally, "is too large", args);
                    } else if (bytes.signum() == 0 || bytes.longValue() % 4096 != 0 || bytes.longValue() < needs) {
                        expect(BAD_INPUT, tally, args);
                    } else {
                        long ram = bytes.longValue();
                        CliRun r = ram <= 64 * MIB ? expect(Set.of(0), tally, args) : expect(Set.of(0, 1, 2), tally, args);
                        if (r.status() == 0) {
                            assertEquals(helloText(3, ram), r.out(), "--mem " + t + " is " + ram + " bytes");
                            ran++;
                        }
                    }
                }
                case 1 -> {
                    Object[] unit = DURATION_UNITS[rnd.nextInt(DURATION_UNITS.length)];
                    String number = digits(rnd, 100) + (rnd.nextInt(4) == 0 ? "." + rnd.nextInt(1000) : "");
                    String t = number + (rnd.nextInt(4) == 0 ? " " : "") + unit[0];
                    boolean malformed = rnd.nextInt(5) == 0;
                    if (malformed) {
                        t = corrupt(t, rnd);
                    }
                    BigDecimal nanos = new BigDecimal(number).multiply(BigDecimal.valueOf((long) unit[1]));
                    String[] args = {"launch", "--image", "hello-long", "--timeout", t};
                    if (malformed) {
                        expectRefusal(tally, "is not a duration", args);
                    } else if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
                        expectRefusal(tally, "is too long", args);
                    } else {
                        // 0 is no limit; a limit of seconds or more leaves hello-long time to finish
                        // on any machine; a shorter one may stop it first (124).
                        boolean ample = nanos.signum() == 0 || nanos.compareTo(BigDecimal.valueOf(5_000_000_000L)) >= 0;
                        CliRun r = expect(ample ? Set.of(0) : Set.of(0, 124), tally, args);
                        if (r.status() == 0) {
                            assertEquals(helloText(3, 16 * MIB), r.out(), "--timeout " + t);
                            ran++;
                        }
                    }
                }
                case 2 -> {
                    int ring = rnd.nextInt(3) == 0 ? rnd.nextInt() : rnd.nextInt(-3, 10);
                    String[] args = {"launch", "--image", "hello-long", "--ring", Integer.toString(ring), "--timeout", "20s"};
                    if (ring == 0 || ring == 3) {
                        assertEquals(helloText(ring, 16 * MIB), expect(Set.of(0), tally, args).out(), "--ring " + ring);
                        ran++;
                    } else {
                        expectRefusal(tally, "ring must be 0 or 3", args);
                    }
                }
                default -> {
                    String[] modes = {"long", "LONG", "Long", "real", "REAL", "lon", "longmode", "", "rea l", "r", "lange"};
                    String t = modes[rnd.nextInt(modes.length)];
                    String[] args = {"launch", "--image", "hello-long", "--mode", t, "--timeout", "20s"};
                    if (t.equalsIgnoreCase("long")) {
                        assertEquals(helloText(3, 16 * MIB), expect(Set.of(0), tally, args).out(), "--mode " + t);
                        ran++;
                    } else {
                        // Anything else is refused; so is real mode for hello-long (a ring-3 long-mode ELF).
                        expectRefusal(tally, t.equalsIgnoreCase("real") ? "" : "--mode must be 'real' or 'long'", args);
                    }
                }
            }
        }
        tally.print();
        System.out.printf("fuzz: CLI random option values: %d of %d ran hello-long and showed the value given%n", ran, 150 * SCALE);
        assertTrue(ran >= 30 * SCALE, "too few valid values among the random ones: " + ran);
    }

    /** Runs the command line and requires status 2 with {@code words} in what it printed to stderr. */
    private static void expectRefusal(Tally tally, String words, String... args) {
        CliRun r = expect(BAD_INPUT, tally, args);
        assertTrue(r.err().contains(words), String.join(" ", args) + ": expected '" + words + "' in:\n" + r.err());
    }

    /**
     * Hostile image files: truncated and corrupted hello-long images and random bytes, written to
     * files and launched with the default 16 MiB. {@link ImageOracle} (the image contract, not
     * kvmctl's parser) says what must happen: refused with status 2 and a message naming a rule the
     * image breaks; run exactly as hello-long when it loads hello-long's bytes; otherwise run, ending
     * any way its corrupted code makes it, but never as an unexpected error.
     */
    @Test
    void hostileImageFiles() throws IOException {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Tally tally = new Tally("CLI hostile image files");
        byte[] hello = BuiltinImages.bytes(BuiltinImages.find("hello-long.elf").orElseThrow());
        ImageOracle.Verdict helloVerdict = ImageOracle.of(hello, 0x100000, 0x100000);
        int asHello = 0;
        for (int i = 0; i < 80 * SCALE; i++) {
            byte[] image;
            switch (rnd.nextInt(3)) {
                // Half the truncations keep at least half the file, where hello-long's segments end.
                case 0 -> image = Arrays.copyOf(hello, rnd.nextBoolean() ? rnd.nextInt(hello.length + 1)
                        : hello.length / 2 + rnd.nextInt(hello.length / 2 + 1));
                case 1 -> {
                    image = hello.clone();
                    for (int k = 0, n = 1 + rnd.nextInt(8); k < n; k++) {
                        image[4 + rnd.nextInt(rnd.nextBoolean() ? 64 + 56 * 4 - 4 : image.length - 4)] ^= (byte) (1 + rnd.nextInt(255));
                    }
                }
                default -> {
                    image = new byte[rnd.nextInt(512)];
                    rnd.nextBytes(image);
                }
            }
            Path file = Files.write(dir.resolve("image-" + i + ".bin"), image);
            boolean real = rnd.nextBoolean();
            long load = real ? 0x7c00 : 0x100000;
            ImageOracle.Verdict v = ImageOracle.of(image, load, load);
            Set<ImageOracle.Reason> why = v.parses() ? ImageOracle.fitProblems(v, 16 * MIB, real) : v.reasons();
            String[] args = {"launch", "--image", file.toString(), "--mode", real ? "real" : "long", "--timeout", "200ms"};
            if (!why.isEmpty()) {
                CliRun r = expect(BAD_INPUT, tally, args);
                assertTrue(why.stream().anyMatch(reason -> reason.matches(r.err())),
                        String.join(" ", args) + ": expected a refusal for " + why + ", got:\n" + r.err());
            } else if (!real && ImageOracle.sameLoad(image, v, hello, helloVerdict)) {
                // A file image starts at ring 0 unless told otherwise.
                args[args.length - 1] = "20s";
                assertEquals(helloText(0, 16 * MIB), expect(Set.of(0), tally, args).out(), "loads hello-long's bytes");
                asHello++;
            } else {
                // It runs: the guest may end with any status it likes (it may write one to port 0xf4).
                CliRun r = CliRun.of(args);
                tally.add("ran, status " + (r.status() == 124 || r.status() == 125 || r.status() == 0 ? r.status() : "other"));
                assertFalse(r.unexpectedError(), String.join(" ", args) + ": unexpected error\n" + r.err());
            }
            Files.delete(file);
        }
        tally.print();
        System.out.printf("fuzz: CLI hostile image files: %d of %d loaded hello-long's bytes and ran exactly as it%n", asHello, 80 * SCALE);
        assertTrue(asHello >= 5 * SCALE, "too few images that still load hello-long: " + asHello);
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
