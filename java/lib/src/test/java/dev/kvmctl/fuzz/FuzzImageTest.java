package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.GuestImageException;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.soak.ProcessResources;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Corrupted guest images through {@link GuestImage#parse}, {@link GuestImage#loadInto} and
 * {@link Machine#boot}, each checked against an oracle that does not use kvmctl's parser
 * ({@link ImageOracle}, the image contract worked out from the ELF64 layout):
 *
 * <ul>
 * <li>an image the contract refuses must be refused with {@link GuestImageException} naming one of
 *     the broken rules; one it accepts must parse into exactly the contract's segments and entry;
 * <li>a parsed image that lies in 8 MiB is loaded into scratch RAM: every segment must hold its
 *     file bytes then zeros, and nothing next to it may change;
 * <li>booted, it must be refused for exactly the placement rules it breaks (RAM size, boot area,
 *     entry point), and otherwise run: an image that loads the same bytes at the same places as a
 *     built-in guest must then do exactly what that guest does (its console text, outcome and
 *     status); a synthetic image must do what its code says; any other (its code corrupted) must
 *     end in a {@link RunResult}, never another exception, crash or hang.
 * </ul>
 *
 * <p>Each test prints how its tries fared and asserts a floor on the share that parse and reach
 * loading or booting, so a generator that drifts into producing only refusals fails.
 *
 * <p>{@code -Dkvmctl.fuzz.seed=N} repeats a run; {@code -Dkvmctl.fuzz.scale=K} multiplies the tries.
 */
class FuzzImageTest {
    static final long SEED = Long.getLong("kvmctl.fuzz.seed", System.nanoTime());
    static final int SCALE = Integer.getInteger("kvmctl.fuzz.scale", 1);
    private static final long RAM = 8L << 20;
    /** For guests that must end on their own: generous, since a run ends as soon as the guest does. */
    private static final Duration ENDS_LIMIT = Duration.ofSeconds(20);
    /** For guests that spin, or whose code was corrupted and may spin. */
    private static final Duration SPIN_LIMIT = Duration.ofMillis(100);

    private static final Tally PARSE = new Tally("GuestImage.parse vs the contract");
    private static final Tally BOOT = new Tally("Machine.boot + run vs the contract");
    private static Kvm kvm;
    private static GuestMemory scratch;
    private static ProcessResources before;

    /** The built-in ELF images (hello-long, fault, spin, sse-compute, producer, ...). */
    static final List<String> ELVES = new ArrayList<>();
    /** Built-in images whose behaviour this test knows, by name. */
    static final Map<String, Pristine> KNOWN = new LinkedHashMap<>();

    /**
     * A built-in image and what it must do when booted with {@link #RAM} bytes: known from its
     * source in {@code vm-images/src}, not from running it.
     */
    record Pristine(String name, byte[] bytes, CpuMode mode, ImageOracle.Verdict verdict) {
        static Pristine of(String name, CpuMode mode) {
            byte[] b = FuzzImageTest.bytes(name);
            return new Pristine(name, b, mode, ImageOracle.of(b, mode.defaultLoadAddress(), mode.defaultLoadAddress()));
        }

        boolean spins() {
            return name.equals("spin.elf");
        }

        /** Null if {@code r} (with console text {@code console}, at {@code ring}) is what this guest must do, else why not. */
        String mismatch(RunResult r, String console, int ring) {
            boolean ok = switch (name) {
                case "hello-long.elf" -> r.outcome() == Outcome.EXITED && r.status() == 0
                        && console.equals("Hello from long mode, ring " + ring + "\nRAM: " + RAM + " bytes (" + (RAM >> 20) + " MiB)\n");
                case "fault.elf" -> r.outcome() == Outcome.FAULTED && r.status() == Outcome.FAULT_STATUS
                        && console.equals("about to fault\n");
                case "spin.elf" -> r.outcome() == Outcome.TIMED_OUT && r.status() == Outcome.TIMEOUT_STATUS
                        && "spinning\n".startsWith(console);
                case "hello-real.bin" -> r.outcome() == Outcome.HALTED && r.status() == 0 && console.equals("Hello from real mode\n");
                // out 0x3f8 'A'; in 0x60 (nobody answers) echoed to 0xe9; an MMIO write and read
                // nobody claims, the read echoed to 0xe9; hlt.
                case "io-exits.bin" -> r.outcome() == Outcome.HALTED && r.status() == 0 && console.startsWith("A")
                        && r.unclaimedPortReads() == 1 && r.unclaimedMmioWrites() == 1 && r.unclaimedMmioReads() == 1;
                default -> throw new IllegalStateException(name);
            };
            return ok ? null : String.format("%s must behave as %s (ring %d) does, but ended %s/%d (%s) with console %s",
                    name, name, ring, r.outcome(), r.status(), r.detail(), quote(console));
        }
    }

    @BeforeAll
    static void open() {
        KvmAvailable.assumeKvm();
        for (BuiltinImages.Image i : BuiltinImages.list()) {
            if (i.file().endsWith(".elf")) {
                ELVES.add(i.file());
            }
        }
        for (String n : List.of("hello-long.elf", "fault.elf", "spin.elf")) {
            KNOWN.put(n, Pristine.of(n, CpuMode.LONG));
        }
        for (String n : List.of("hello-real.bin", "io-exits.bin")) {
            KNOWN.put(n, Pristine.of(n, CpuMode.REAL));
        }
        kvm = Kvm.open();
        scratch = GuestMemory.anonymous(RAM);
        scratch.fill(0, RAM, ImageOracle.UNTOUCHED);
        before = ProcessResources.take(false);
        System.out.println("fuzz: FuzzImageTest seed " + SEED + " (-Dkvmctl.fuzz.seed to repeat)");
    }

    @AfterAll
    static void close() {
        if (kvm == null) {
            return;
        }
        PARSE.print();
        BOOT.print();
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        scratch.close();
        kvm.close();
        assertTrue(leaks.isEmpty(), "booting corrupted images left " + leaks);
    }

    static byte[] bytes(String name) {
        return BuiltinImages.bytes(BuiltinImages.find(name).orElseThrow());
    }

    /** How one try went, for the per-test counts. */
    enum Fate { REFUSED, PARSED, LOADED, BOOT_REFUSED, RAN_AS_KNOWN, RAN_AS_CODED, RAN_ARBITRARY }

    /** Counts of {@link Fate}s for one test; prints them and checks floors. */
    static final class Fates {
        final String test;
        final long[] counts = new long[Fate.values().length];
        long tries;

        Fates(String test) {
            this.test = test;
        }

        void add(List<Fate> fates) {
            tries++;
            for (Fate f : fates) {
                counts[f.ordinal()]++;
            }
        }

        long count(Fate f) {
            return counts[f.ordinal()];
        }

        double share(Fate f) {
            return tries == 0 ? 0 : 100.0 * count(f) / tries;
        }

        /** Prints the counts and fails when fewer than {@code minPercent} of the tries reached {@code f}. */
        void report(Fate f, double minPercent) {
            StringBuilder line = new StringBuilder();
            for (Fate x : Fate.values()) {
                line.append(String.format(" %s=%d (%.1f%%)", x.name().toLowerCase(), count(x), share(x)));
            }
            System.out.printf("fuzz: %s: %d tries:%s%n", test, tries, line);
            assertTrue(share(f) >= minPercent, String.format("%s: only %.1f%% of %d tries reached %s (floor %.0f%%): "
                    + "the generator no longer produces enough meaningful images", test, share(f), tries, f, minPercent));
        }
    }

    /**
     * Parses {@code image} (a flat one at {@code mode}'s default address) and checks it against the
     * contract; if it parses, lies in {@link #RAM} and {@code load} is set, loads it into scratch
     * RAM and checks every byte; if {@code boot} is set, boots and runs it (an ELF image in long
     * mode at {@code ring}) and checks the result. {@code pristine} is the built-in it came from, if
     * any; {@code coded} is what a synthetic image's code must make the guest do, if known.
     */
    static List<Fate> attempt(String what, byte[] image, CpuMode mode, int ring, boolean load, boolean boot,
                              Pristine pristine, Expected coded) {
        List<Fate> fates = new ArrayList<>();
        long at = mode.defaultLoadAddress();
        ImageOracle.Verdict v = ImageOracle.of(image, at, at);
        GuestImage parsed;
        try {
            parsed = GuestImage.parse(what, image, at, at);
        } catch (GuestImageException e) {
            if (v.parses()) {
                throw new AssertionError(what + ": refused (\"" + e.getMessage() + "\") although the contract accepts it as "
                        + v.segments() + " entry 0x" + Long.toHexString(v.entry()));
            }
            ImageOracle.checkRefusal(what, e, v.reasons());
            PARSE.add("refused as the contract says");
            fates.add(Fate.REFUSED);
            return fates;
        } catch (Throwable t) {
            throw new AssertionError(what + ": parse threw " + t, t);
        }
        if (!v.parses()) {
            throw new AssertionError(what + ": parsed as " + parsed + " although the contract refuses it for " + v.reasons());
        }
        ImageOracle.checkParsed(what, parsed, v);
        PARSE.add("parsed as the contract says (" + parsed.format() + ")");
        fates.add(Fate.PARSED);
        boolean inRam = v.segments().stream().allMatch(s -> s.address() <= RAM - s.memorySize());
        if (load && inRam) {
            parsed.loadInto(scratch);
            ImageOracle.checkLoaded(what, scratch, image, v);
            fates.add(Fate.LOADED);
        }
        if (!boot) {
            return fates;
        }
        if (parsed.format() == GuestImage.Format.ELF) {
            mode = CpuMode.LONG; // ELF images are long-mode images
        } else if (mode == CpuMode.REAL) {
            ring = 0;
        }
        Set<ImageOracle.Reason> misfit = ImageOracle.fitProblems(v, RAM, mode == CpuMode.REAL);
        boolean asKnown = pristine != null && pristine.mode() == mode && ImageOracle.sameLoad(image, v, pristine.bytes(), pristine.verdict());
        Duration limit = asKnown ? (pristine.spins() ? SPIN_LIMIT : ENDS_LIMIT) : coded != null ? coded.limit() : SPIN_LIMIT;
        Console console = new Console(OutputStream.nullOutputStream(), null);
        GuestConfig config = GuestConfig.builder(parsed).mode(mode).ring(ring).memorySize(RAM).console(console).build();
        RunResult r;
        try (Machine m = Machine.boot(kvm, config)) {
            if (!misfit.isEmpty()) {
                throw new AssertionError(what + ": booted although the contract refuses it for " + misfit);
            }
            r = m.run(limit);
        } catch (GuestImageException e) {
            if (misfit.isEmpty()) {
                throw new AssertionError(what + " (" + mode + ", ring " + ring + "): boot refused (\"" + e.getMessage()
                        + "\") although the image fits", e);
            }
            ImageOracle.checkRefusal(what, e, misfit);
            BOOT.add("refused as the contract says");
            fates.add(Fate.BOOT_REFUSED);
            return fates;
        } catch (Throwable t) {
            throw new AssertionError(what + " (" + mode + ", ring " + ring + "): boot or run threw " + t, t);
        }
        String text = console.text();
        if (asKnown) {
            String mismatch = pristine.mismatch(r, text, ring);
            if (mismatch != null) {
                throw new AssertionError(what + ": loads exactly what " + pristine.name() + " loads, so " + mismatch);
            }
            BOOT.add("ran exactly as " + pristine.name());
            fates.add(Fate.RAN_AS_KNOWN);
        } else if (coded != null) {
            if (r.outcome() != coded.outcome() || r.status() != coded.status() || !text.isEmpty()) {
                throw new AssertionError(String.format("%s (ring %d): its code must end %s/%d, ended %s/%d (%s), console %s",
                        what, ring, coded.outcome(), coded.status(), r.outcome(), r.status(), r.detail(), quote(text)));
            }
            BOOT.add("ran as its code says: " + r.outcome());
            fates.add(Fate.RAN_AS_CODED);
        } else {
            BOOT.add("ran corrupted code: " + r.outcome());
            fates.add(Fate.RAN_ARBITRARY);
        }
        return fates;
    }

    /** What a synthetic image's code must make the guest do, and how long to let it. */
    record Expected(Outcome outcome, int status, Duration limit) {}

    /** The oracle's own check: each known built-in, untouched, does what {@link Pristine#mismatch} says (long mode at both rings). */
    @Test
    void theKnownBuiltinsDoWhatTheOracleSays() {
        for (Pristine p : KNOWN.values()) {
            for (int ring : p.mode() == CpuMode.LONG ? new int[] {3, 0} : new int[] {0}) {
                List<Fate> f = attempt(p.name() + " untouched", p.bytes(), p.mode(), ring, true, true, p, null);
                assertTrue(f.contains(Fate.RAN_AS_KNOWN), p.name() + " at ring " + ring + ": " + f);
            }
        }
    }

    @Test
    void everyTruncationOfEveryBuiltinElf() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        Fates fates = new Fates("truncations");
        for (String name : ELVES) {
            byte[] full = bytes(name);
            Pristine known = KNOWN.get(name);
            for (int len = 0; len <= full.length; len++) {
                // Booted when they parse: the guests whose behaviour this test knows; loaded: a sample.
                boolean boot = known != null && (len % 331 == 0 || full.length - len < 4);
                boolean load = len % 97 == 0 || full.length - len < 4 || boot;
                fates.add(attempt(name + "[0," + len + ")", Arrays.copyOf(full, len), CpuMode.LONG, ring(rnd), load, boot, known, null));
            }
        }
        // The built-ins carry debug sections after their segments: most truncations still load.
        fates.report(Fate.PARSED, 30);
        assertTrue(fates.count(Fate.RAN_AS_KNOWN) >= 10, "truncations that still load must boot: " + fates.count(Fate.RAN_AS_KNOWN));
    }

    private static int ring(SplittableRandom rnd) {
        return rnd.nextInt(4) != 0 ? 3 : 0;
    }

    /** ELF64 header and program-header fields, each set to values that break naive checks. */
    @Test
    void headerFieldsPointingAnywhere() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        Fates fates = new Fates("header fields");
        Pristine hello = KNOWN.get("hello-long.elf");
        byte[] good = hello.bytes();
        int length = good.length;
        long[] anywhere = {0, 1, 7, 63, 64, 120, length - 1, length, length + 1, 0x1000, 0x9f000, 0xa0000, 0xfffff,
            0x100000, RAM - 0x10, RAM, RAM + 0x1000, 1L << 31, 1L << 32, 1L << 40, 1L << 52, 1L << 62,
            Long.MAX_VALUE, Long.MAX_VALUE - 0x1000, Long.MIN_VALUE, -1, -0x1000, 0xffffffffL};
        // offset, width; p_offset etc. of phdr 0 and 1 (hello-long's two PT_LOADs)
        int[][] fields = {
            {4, 1}, {5, 1}, {16, 2}, {18, 2}, {24, 8}, {32, 8}, {54, 2}, {56, 2},           // class, data, type, machine, entry, phoff, phentsize, phnum
            {64, 4}, {64 + 8, 8}, {64 + 24, 8}, {64 + 32, 8}, {64 + 40, 8},                 // phdr 0: type, offset, paddr, filesz, memsz
            {120, 4}, {120 + 8, 8}, {120 + 24, 8}, {120 + 32, 8}, {120 + 40, 8},            // phdr 1
        };
        for (int[] f : fields) {
            for (long v : anywhere) {
                fates.add(attempt("field@" + f[0] + "=" + v, with(good, f[0], f[1], v), CpuMode.LONG, ring(rnd), true, true, hello, null));
            }
        }
        // Then random pairs and triples of those mutations together.
        for (int i = 0; i < 400 * SCALE; i++) {
            byte[] b = good.clone();
            StringBuilder what = new StringBuilder("fields");
            for (int k = 0; k < 2 + rnd.nextInt(2); k++) {
                int[] f = fields[rnd.nextInt(fields.length)];
                long v = anywhere[rnd.nextInt(anywhere.length)] + (rnd.nextInt(4) == 0 ? rnd.nextInt(0x2000) : 0);
                b = with(b, f[0], f[1], v);
                what.append(" @").append(f[0]).append('=').append(v);
            }
            fates.add(attempt(what.toString(), b, CpuMode.LONG, ring(rnd), true, true, hello, null));
        }
        fates.report(Fate.PARSED, 15);
        assertTrue(fates.count(Fate.BOOT_REFUSED) > 0 && fates.count(Fate.RAN_AS_KNOWN) > 0,
                "both fitting and misplaced images among the mutations");
    }

    /**
     * Synthetic images whose code is known: one PT_LOAD (or two overlapping ones) holding
     * {@code mov al, 42; out 0xf4, al; jmp $} at 11 addresses (IVT, boot area, end of RAM, beyond,
     * negative) x 10 memory sizes x 3 entry points. Entered at the {@code mov}, the guest must exit
     * with status 42; at the {@code jmp $}, it must spin until the time limit.
     */
    @Test
    void segmentsOutsideMemoryAndHugeSizes() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        Fates fates = new Fates("segment placements");
        byte[] code = {(byte) 0xb0, 0x2a, (byte) 0xe6, (byte) 0xf4, (byte) 0xeb, (byte) 0xfe}; // mov al,42; out 0xf4,al; jmp $
        long[] addresses = {0, 0x1000, 0x7c00, 0x9f000, 0xa0000, 0x100000, RAM - 6, RAM - 0x1000, RAM, 1L << 32, -6};
        long[] memsizes = {0, 6, 0x1000, RAM, RAM + 1, 1L << 30, 1L << 40, 1L << 62, Long.MAX_VALUE, -1};
        for (long paddr : addresses) {
            for (long memsz : memsizes) {
                for (long entry : new long[] {paddr, paddr + 4, 0x100000}) {
                    Expected coded = entry == paddr ? new Expected(Outcome.EXITED, 42, ENDS_LIMIT)
                            : entry == paddr + 4 ? new Expected(Outcome.TIMED_OUT, Outcome.TIMEOUT_STATUS, SPIN_LIMIT)
                            : null; // 0x100000 is the code only when paddr is
                    fates.add(attempt(String.format("segment at 0x%x memsz 0x%x entry 0x%x", paddr, memsz, entry),
                            elf(paddr, entry, code, memsz, rnd.nextInt(3) == 0), CpuMode.LONG, ring(rnd), true, true, null, coded));
                }
            }
        }
        // Then placements that fit: anywhere between the boot area and the end of RAM, zeros after
        // the code up to a random p_memsz, sometimes behind a second, disjoint segment.
        for (int i = 0; i < 150 * SCALE; i++) {
            long memsz = code.length + (rnd.nextBoolean() ? 0 : rnd.nextLong(0x3000));
            long paddr = 0xa0000 + rnd.nextLong(RAM - 0xa0000 - 2 * memsz - 0x10);
            boolean spin = rnd.nextBoolean();
            Expected coded = spin ? new Expected(Outcome.TIMED_OUT, Outcome.TIMEOUT_STATUS, SPIN_LIMIT)
                    : new Expected(Outcome.EXITED, 42, ENDS_LIMIT);
            byte[] image = elf(paddr, paddr + (spin ? 4 : 0), code, memsz, false);
            if (rnd.nextBoolean()) { // a second PT_LOAD of the same bytes right after the first
                image = withSecondSegment(image, paddr + memsz + rnd.nextLong(0x10), memsz);
            }
            fates.add(attempt(String.format("fitting segment at 0x%x memsz 0x%x", paddr, memsz), image, CpuMode.LONG,
                    ring(rnd), true, true, null, coded));
        }
        fates.report(Fate.RAN_AS_CODED, 25);
    }

    /** {@code image} (from {@link #elf} with one segment) with a second PT_LOAD of the same file bytes at {@code paddr}. */
    static byte[] withSecondSegment(byte[] image, long paddr, long memsz) {
        ByteBuffer in = ByteBuffer.wrap(image).order(ByteOrder.LITTLE_ENDIAN);
        byte[] code = Arrays.copyOfRange(image, 64 + 56, image.length);
        ByteBuffer b = ByteBuffer.allocate(64 + 2 * 56 + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(image, 0, 64).putShort(56, (short) 2);
        for (long address : new long[] {in.getLong(64 + 24), paddr}) {
            b.putInt(1).putInt(5).putLong(64 + 2 * 56).putLong(address).putLong(address)
                    .putLong(code.length).putLong(memsz).putLong(0x1000);
        }
        b.put(code);
        return b.array();
    }

    /** Random byte flips of the real built-in images (ELF and flat); the ELF magic is flipped rarely. */
    @Test
    void randomByteFlipsOfTheBuiltinImages() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        Fates fates = new Fates("byte flips");
        List<Pristine> all = new ArrayList<>(KNOWN.values());
        for (int i = 0; i < 3000 * SCALE; i++) {
            Pristine p = all.get(rnd.nextInt(all.size()));
            byte[] b = p.bytes().clone();
            boolean elf = p.name().endsWith(".elf");
            int flips = 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 32);
            for (int k = 0; k < flips; k++) {
                // Half the flips land in the ELF headers, where they matter most for parsing; the
                // magic itself one time in 50 (past it, the image is flat).
                int at = elf && rnd.nextBoolean() ? 4 + rnd.nextInt(Math.min(b.length, 64 + 56 * 4) - 4) : rnd.nextInt(b.length);
                if (elf && at < 4 && rnd.nextInt(50) != 0) {
                    at += 4;
                }
                b[at] ^= (byte) (rnd.nextBoolean() ? 1 << rnd.nextInt(8) : 1 + rnd.nextInt(255));
            }
            // Parsing and loading are cheap; booting one in ten keeps the test short. Flat images
            // are booted in the real mode they were written for, one in four in long mode.
            CpuMode mode = elf || rnd.nextInt(4) != 0 ? (elf ? CpuMode.LONG : CpuMode.REAL) : CpuMode.LONG;
            fates.add(attempt(p.name() + " with " + flips + " flips", b, mode, ring(rnd), true, i % 10 == 0, p, null));
        }
        fates.report(Fate.LOADED, 30);
    }

    /** Random bytes: some behind a valid ELF identification and header, some not. */
    @Test
    void randomBytes() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        Fates fates = new Fates("random bytes");
        for (int i = 0; i < 3000 * SCALE; i++) {
            byte[] b = new byte[rnd.nextInt(rnd.nextBoolean() ? 64 : 4096)];
            rnd.nextBytes(b);
            if (b.length >= 20 && rnd.nextBoolean()) {
                System.arraycopy(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, 0, b, 0, 8);
                b[16] = 2;
                b[17] = 0;
                b[18] = 62;
                b[19] = 0;
            }
            CpuMode mode = rnd.nextInt(3) == 0 ? CpuMode.REAL : CpuMode.LONG;
            fates.add(attempt("random " + b.length + " bytes", b, mode, ring(rnd), true, i % 20 == 0, null, null));
        }
        // Every try is checked against the contract; these are mostly refusals and flat images.
        fates.report(Fate.REFUSED, 20);
    }

    static byte[] with(byte[] image, int offset, int width, long value) {
        byte[] b = image.clone();
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        switch (width) {
            case 1 -> buf.put(offset, (byte) value);
            case 2 -> buf.putShort(offset, (short) value);
            case 4 -> buf.putInt(offset, (int) value);
            default -> buf.putLong(offset, value);
        }
        return b;
    }

    /** A minimal ELF64 executable: one PT_LOAD of {@code code} at {@code paddr} (optionally a second, overlapping one). */
    static byte[] elf(long paddr, long entry, byte[] code, long memsz, boolean overlapping) {
        int phnum = overlapping ? 2 : 1;
        int codeAt = 64 + 56 * phnum;
        ByteBuffer b = ByteBuffer.allocate(codeAt + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) 62).putInt(1).putLong(entry).putLong(64).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) phnum)
                .putShort((short) 64).putShort((short) 0).putShort((short) 0);
        for (int i = 0; i < phnum; i++) {
            b.putInt(1).putInt(5).putLong(codeAt).putLong(paddr + i * 2L).putLong(paddr + i * 2L)
                    .putLong(code.length).putLong(memsz).putLong(0x1000);
        }
        b.put(code);
        return b.array();
    }

    static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
