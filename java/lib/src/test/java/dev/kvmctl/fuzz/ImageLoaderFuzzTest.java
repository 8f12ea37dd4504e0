package dev.kvmctl.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.GuestImageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing (Jazzer) of the guest image loader: {@link GuestImage#parse} on any
 * bytes, then {@link GuestImage#checkFits} and {@link GuestImage#loadInto} on what it accepts.
 * Seeds: every built-in image, and each ELF one cut right after the last byte it loads.
 *
 * <p>The oracle reads the ELF header and program headers itself (a few fixed offsets of the ELF64
 * specification), not through the parser: an accepted file must be an x86-64 ELF64 executable
 * whose segments are exactly its {@code PT_LOAD} headers with a non-zero memory size, sorted,
 * disjoint, inside the file and the address space; without the ELF magic it must be one flat
 * segment. {@code checkFits} must refuse exactly the images that leave the guest's RAM, touch the
 * boot area or start outside themselves. Loading into RAM filled with a canary must write exactly
 * the segments' file bytes and zeros, and nothing else, or refuse with
 * {@link GuestImageException} and write nothing. Any other exception, or a parse that allocates
 * more than a small multiple of the input, is a finding.
 */
class ImageLoaderFuzzTest {
    /** The guest's RAM: room for every built-in image at 1 MiB but sse-compute's 4 MiB of data. */
    static final int RAM = 2 << 20;
    /** Where flat images go and start. */
    static final long FLAT_LOAD = 0x100000;
    private static final byte CANARY = (byte) 0xa5;

    private static final FuzzCount COUNT = new FuzzCount("image-loader");
    private static GuestMemory ram;
    private static final byte[] expected = new byte[RAM];
    private static final byte[] actual = new byte[RAM];

    static Stream<Arguments> seeds() {
        List<Arguments> seeds = new ArrayList<>();
        for (BuiltinImages.Image image : BuiltinImages.list()) {
            byte[] bytes = BuiltinImages.bytes(image);
            seeds.add(Arguments.of(Named.of(image.file(), bytes)));
            Elf elf = Elf.read(bytes);
            if (elf != null) {
                long end = elf.loads.stream().mapToLong(p -> p.offset + p.filesz).max().orElse(64);
                end = Math.max(end, elf.phoff + (long) elf.phentsize * elf.phnum);
                seeds.add(Arguments.of(Named.of(image.file() + " (loaded bytes only)", Arrays.copyOf(bytes, (int) end))));
            }
        }
        return seeds.stream();
    }

    @MethodSource("seeds")
    // The bounds of the short run (scripts/fuzz.sh --short, in make test); the long run sets its own.
    @FuzzTest(maxExecutions = 10_000, maxDuration = "120s")
    @Timeout(10) // per input, in fuzzing mode (libFuzzer's -timeout)
    void imageLoader(byte[] input) {
        COUNT.add(check(input));
    }

    @AfterAll
    static void report() {
        COUNT.report();
        if (ram != null) {
            ram.close();
            ram = null;
        }
    }

    /** Checks one input; returns how it ended. */
    static String check(byte[] b) {
        byte[] file = b.clone(); // the parser must not change its input: compared below
        GuestImage image;
        try {
            image = GuestImage.parse("fuzz", b, FLAT_LOAD, FLAT_LOAD);
        } catch (GuestImageException e) {
            checkAllocation(b, "refusing");
            return "refused: " + FuzzCount.reason(e, "fuzz");
        }
        checkAllocation(b, "parsing");
        assertTrue(Arrays.equals(file, b), "parse changed its input");

        Elf elf = Elf.read(b);
        List<GuestImage.Segment> want = elf == null
                ? List.of(new GuestImage.Segment(FLAT_LOAD, b.length, 0, b.length)) : elf.expectedSegments(b.length);
        assertTrue(image.format() == (elf == null ? GuestImage.Format.FLAT : GuestImage.Format.ELF),
                () -> "format " + image.format() + " for bytes " + (elf == null ? "without" : "with") + " the ELF magic");
        assertTrue(image.segments().equals(want), () -> "segments " + image.segments() + ", the program headers say " + want);
        assertTrue(image.entry() == (elf == null ? FLAT_LOAD : elf.entry), "entry point");

        boolean insideRam = want.stream().allMatch(s -> s.address() + s.memorySize() <= RAM);
        boolean clearOfBootArea = want.stream().allMatch(
                s -> s.address() >= BootSetup.BOOT_AREA_END || s.address() + s.memorySize() <= BootSetup.BOOT_AREA_START);
        boolean entryInside = want.stream().anyMatch(s -> image.entry() >= s.address() && image.entry() - s.address() < s.memorySize());
        boolean fits;
        try {
            image.checkFits(RAM, BootSetup.BOOT_AREA_START, BootSetup.BOOT_AREA_END);
            fits = true;
        } catch (GuestImageException e) {
            fits = false;
        }
        boolean shouldFit = insideRam && clearOfBootArea && entryInside;
        assertTrue(fits == shouldFit, () -> "checkFits " + (shouldFit ? "refused" : "accepted") + " " + want
                + " (inside RAM " + insideRam + ", clear of the boot area " + clearOfBootArea + ", entry inside " + entryInside + ")");

        // Load, whether or not it fits beside the boot area: loadInto checks RAM bounds alone.
        GuestMemory memory = ram();
        memory.fill(0, RAM, CANARY);
        Arrays.fill(expected, CANARY);
        boolean loaded;
        try {
            image.loadInto(memory);
            loaded = true;
        } catch (GuestImageException e) {
            loaded = false;
        }
        assertTrue(loaded == insideRam, () -> "loadInto " + (insideRam ? "refused" : "accepted") + " segments " + want);
        if (loaded) {
            for (GuestImage.Segment s : want) {
                int at = (int) s.address();
                System.arraycopy(b, s.fileOffset(), expected, at, s.fileSize());
                Arrays.fill(expected, at + s.fileSize(), (int) (at + s.memorySize()), (byte) 0);
            }
        }
        memory.read(0, actual, 0, RAM);
        if (!Arrays.equals(actual, expected)) {
            int at = Arrays.mismatch(actual, expected);
            throw new AssertionError(String.format("after %s load, guest RAM at 0x%x holds 0x%02x, expected 0x%02x (segments %s)",
                    loaded ? "a" : "a refused", at, actual[at], expected[at], want));
        }
        return shouldFit ? "accepted, fits" : loaded ? "accepted, does not fit" : "accepted, outside RAM (not loaded)";
    }

    /**
     * A parse (or its refusal) allocates at most 16 bytes per input byte and 64 KiB more. Measured
     * on a second parse of the same bytes, so that what a first use of some code costs once (class
     * loading, a message's formatter) does not count.
     */
    private static void checkAllocation(byte[] b, String what) {
        long before = FuzzCount.allocatedBytes();
        try {
            GuestImage.parse("fuzz", b, FLAT_LOAD, FLAT_LOAD);
        } catch (GuestImageException e) {
            // the same outcome as the first parse; only the allocation is measured here
        }
        long used = FuzzCount.allocatedBytes() - before;
        long bound = 16L * b.length + (64 << 10);
        assertTrue(used <= bound, () -> what + " " + b.length + " bytes allocated " + used + " bytes, more than " + bound);
    }

    private static GuestMemory ram() {
        if (ram == null) {
            ram = GuestMemory.anonymous(RAM);
        }
        return ram;
    }

    static void assertTrue(boolean ok, String message) {
        if (!ok) {
            throw new AssertionError(message);
        }
    }

    static void assertTrue(boolean ok, java.util.function.Supplier<String> message) {
        if (!ok) {
            throw new AssertionError(message.get());
        }
    }

    /** The ELF64 fields the oracle needs, read at their offsets in the specification. */
    static final class Elf {
        int elfClass, data, type, machine, phentsize, phnum;
        long entry, phoff;
        /** The PT_LOAD program headers, in file order. */
        final List<Phdr> loads = new ArrayList<>();

        record Phdr(long offset, long paddr, long filesz, long memsz) {}

        /** The headers of {@code b}, or null without the ELF magic (a flat image). */
        static Elf read(byte[] b) {
            if (b.length < 4 || b[0] != 0x7f || b[1] != 'E' || b[2] != 'L' || b[3] != 'F') {
                return null;
            }
            Elf e = new Elf();
            if (b.length < 64) {
                return e; // elfClass 0: not acceptable
            }
            ByteBuffer in = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
            e.elfClass = b[4];
            e.data = b[5];
            e.type = Short.toUnsignedInt(in.getShort(16));
            e.machine = Short.toUnsignedInt(in.getShort(18));
            e.entry = in.getLong(24);
            e.phoff = in.getLong(32);
            e.phentsize = Short.toUnsignedInt(in.getShort(54));
            e.phnum = Short.toUnsignedInt(in.getShort(56));
            if (e.phoff < 0 || e.phoff > b.length || e.phentsize < 56
                    || Math.multiplyHigh(e.phentsize, e.phnum) != 0 || (long) e.phentsize * e.phnum > b.length - e.phoff) {
                return e;
            }
            for (int i = 0; i < e.phnum; i++) {
                int at = (int) (e.phoff + (long) i * e.phentsize);
                if (in.getInt(at) == 1) {
                    e.loads.add(new Phdr(in.getLong(at + 8), in.getLong(at + 24), in.getLong(at + 32), in.getLong(at + 40)));
                }
            }
            return e;
        }

        /**
         * The segments an accepted file must have; fails if this file should not have been
         * accepted at all (not x86-64 ELF64 LE ET_EXEC, headers or segments outside the file,
         * memory smaller than the file part, addresses past 2^63, overlaps, nothing to load).
         */
        List<GuestImage.Segment> expectedSegments(long fileLength) {
            assertTrue(elfClass == 2 && data == 1 && machine == 62 && type == 2, () -> String.format(
                    "accepted an ELF file of class %d, data %d, machine %d, type %d", elfClass, data, machine, type));
            assertTrue(phnum > 0 && phentsize >= 56 && phoff >= 0
                    && new java.math.BigInteger(Long.toString(phoff)).add(java.math.BigInteger.valueOf((long) phentsize * phnum))
                            .compareTo(java.math.BigInteger.valueOf(fileLength)) <= 0,
                    () -> "accepted program headers [" + phoff + ", +" + phentsize + " x " + phnum + ") of a " + fileLength + "-byte file");
            List<GuestImage.Segment> segments = new ArrayList<>();
            for (Phdr p : loads) {
                assertTrue(p.offset >= 0 && p.filesz >= 0 && p.offset <= fileLength && p.filesz <= fileLength - p.offset,
                        () -> "accepted a segment whose file range lies outside the file: " + p);
                assertTrue(Long.compareUnsigned(p.memsz, p.filesz) >= 0, () -> "accepted a segment smaller in memory than in the file: " + p);
                assertTrue(p.paddr >= 0 && p.memsz >= 0 && p.paddr + p.memsz >= p.paddr,
                        () -> "accepted a segment past the end of the address space: " + p);
                if (p.memsz > 0) {
                    segments.add(new GuestImage.Segment(p.paddr, p.memsz, (int) p.offset, (int) p.filesz));
                }
            }
            assertTrue(!segments.isEmpty(), "accepted an ELF file with nothing to load");
            segments.sort(Comparator.comparingLong(GuestImage.Segment::address));
            for (int i = 1; i < segments.size(); i++) {
                GuestImage.Segment a = segments.get(i - 1), s = segments.get(i);
                assertTrue(s.address() >= a.address() + a.memorySize(), () -> "accepted overlapping segments " + a + " and " + s);
            }
            return segments;
        }
    }
}
