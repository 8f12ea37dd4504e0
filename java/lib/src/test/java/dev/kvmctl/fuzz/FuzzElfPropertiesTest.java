package dev.kvmctl.fuzz;

import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.GuestImageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;

/**
 * jqwik properties of the ELF parser alone (no KVM), against {@link ImageOracle}, which works out
 * from the ELF64 layout what the image contract says: mutations of a real image and synthetic
 * headers with arbitrary program headers must be refused for one of the rules they break, or
 * parse into exactly the contract's segments and entry; {@link GuestImage#checkFits} must then
 * refuse exactly the images that do not fit 16 MiB outside the boot area. jqwik shrinks a failing
 * case to its smallest input and prints the seed to repeat it.
 *
 * <p>Each property also checks its generator: at least a set share of its tries must parse and fit
 * (the deep path through the parser), so a generator that drifts into trivial refusals fails.
 */
class FuzzElfPropertiesTest {
    private static final int HEADERS_END = 64 + 56 * 4;
    private static final long RAM = 16L << 20;
    private static final String FITS = "parsed, fits";

    private static byte[] hello;

    private static byte[] hello() {
        if (hello == null) {
            hello = BuiltinImages.bytes(BuiltinImages.find("hello-long.elf").orElseThrow());
        }
        return hello;
    }

    /** 1 to 12 (mostly 1 to 3) bytes set, most in the headers, never in the ELF magic (see {@code magicDice}). */
    @Provide
    Arbitrary<List<Tuple.Tuple2<Integer, Byte>>> mutations() {
        Arbitrary<Integer> offset = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.integers().between(4, HEADERS_END - 1)),
                Tuple.of(1, Arbitraries.integers().between(4, hello().length - 1)));
        Arbitrary<Integer> size = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.integers().between(1, 3)), Tuple.of(1, Arbitraries.integers().between(4, 12)));
        return size.flatMap(n -> Combinators.combine(offset, Arbitraries.bytes()).as(Tuple::of).list().ofSize(n));
    }

    @Property(tries = 4000)
    void mutatedImagesMatchTheContract(@ForAll("mutations") List<Tuple.Tuple2<Integer, Byte>> mutations,
                                       @ForAll @IntRange(min = 0, max = 49) int magicDice,
                                       @ForAll @IntRange(min = 0, max = 4) int truncateDice,
                                       @ForAll @IntRange(min = 0, max = 16751) int truncateTo) {
        byte[] b = hello().clone();
        for (Tuple.Tuple2<Integer, Byte> m : mutations) {
            b[m.get1()] = m.get2();
        }
        if (magicDice == 0) { // one try in 50: the magic goes, and the bytes are a flat image
            b[truncateTo % 4] ^= 0x20;
        }
        if (truncateDice == 0 && truncateTo < b.length) {
            b = Arrays.copyOf(b, truncateTo);
        }
        collectAndCheck(b, 25);
    }

    /** jqwik's edge cases are left out: mixed in, they would swamp the plausible headers with type 0 and 7. */
    @Property(tries = 4000, edgeCases = EdgeCasesMode.NONE)
    void syntheticHeadersMatchTheContract(
            @ForAll @IntRange(min = -15, max = 4) int phnumOrMatch,
            @ForAll("phdrs") List<long[]> phdrs,
            @ForAll @IntRange(min = 0, max = 1024) int tail,
            @ForAll long anyEntry,
            @ForAll @IntRange(min = 0, max = 3) int entryDice,
            @ForAll @IntRange(min = 0, max = 0x40) int entryOffset) {
        long entry = entryDice > 0 && !phdrs.isEmpty() ? phdrs.get(0)[2] + entryOffset % Math.max(1, phdrs.get(0)[4]) : anyEntry;
        int phnum = phnumOrMatch < 0 ? phdrs.size() : phnumOrMatch;
        int size = 64 + 56 * Math.max(phnum, phdrs.size()) + tail;
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) 62).putInt(1).putLong(entry).putLong(64).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) phnum)
                .putShort((short) 64).putShort((short) 0).putShort((short) 0);
        for (int i = 0; i < phdrs.size(); i++) {
            long[] p = phdrs.get(i); // type, offset, paddr, filesz, memsz
            b.position(64 + 56 * i);
            b.putInt((int) p[0]).putInt(5).putLong(p[1]).putLong(p[2]).putLong(p[2]).putLong(p[3]).putLong(p[4]).putLong(0x1000);
        }
        collectAndCheck(b.array(), 30);
    }

    /**
     * 1 to 4 program headers, six in seven plausible (a PT_LOAD of up to 200 bytes from the file's
     * first 400, in its own 64 KiB slot above 1 MiB, so mostly disjoint and inside the file) and
     * one in seven with absurd fields. (No program headers at all: {@code phnumOrMatch} 0.)
     */
    @Provide
    Arbitrary<List<long[]>> phdrs() {
        Arbitrary<long[]> plausible = Combinators.combine(
                Arbitraries.frequencyOf(Tuple.of(19, Arbitraries.just(1L)), Tuple.of(1, Arbitraries.longs().between(0, 7))),
                Arbitraries.longs().between(0, 200),
                Arbitraries.longs().between(0, 200).map(slot -> 0x100000 + slot * 0x10000),
                Arbitraries.longs().between(1, 200),
                Arbitraries.frequencyOf(Tuple.of(1, Arbitraries.just(0L)), Tuple.of(1, Arbitraries.longs().between(0, 0x3000))))
                .as((t, o, a, f, extra) -> new long[] {t, o, a, f, f + extra});
        Arbitrary<Long> any = Arbitraries.longs();
        Arbitrary<Long> small = Arbitraries.longs().between(0, 1024);
        Arbitrary<Long> address = Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.longs().between(0, 32L << 20)), Tuple.of(1, any));
        Arbitrary<Long> offset = Arbitraries.frequencyOf(Tuple.of(8, small), Tuple.of(1, any));
        Arbitrary<Long> type = Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just(1L)), Tuple.of(1, Arbitraries.longs().between(0, 0xffffffffL)));
        Arbitrary<long[]> wild = Combinators.combine(type, offset, address, offset, Arbitraries.frequencyOf(Tuple.of(4, small), Tuple.of(1, any)))
                .as((t, o, a, f, m) -> new long[] {t, o, a, f, m});
        return Arbitraries.frequencyOf(Tuple.of(6, plausible), Tuple.of(1, wild)).list().ofMinSize(1).ofMaxSize(4);
    }

    /** Checks the bytes against the contract, collects how they fared, and requires {@code minFitPercent} to parse and fit. */
    private static void collectAndCheck(byte[] b, double minFitPercent) {
        String label;
        try {
            label = check(b);
        } catch (RuntimeException | AssertionError e) {
            Statistics.label("outcome").collect("failed");
            throw e;
        }
        Statistics.label("outcome").collect(label);
        Statistics.label("outcome").coverage(c -> c.check(FITS).percentage(p -> p >= minFitPercent));
    }

    /** Parses and checks fitting against {@link ImageOracle}. Returns a label for the statistics. */
    private static String check(byte[] b) {
        ImageOracle.Verdict v = ImageOracle.of(b, 0x100000, 0x100000);
        GuestImage img;
        try {
            img = GuestImage.parse("prop", b, 0x100000, 0x100000);
        } catch (GuestImageException e) {
            if (v.parses()) {
                throw new AssertionError("refused (\"" + e.getMessage() + "\") although the contract accepts it as " + v.segments());
            }
            ImageOracle.checkRefusal("prop", e, v.reasons());
            Statistics.label("why").collect(v.reasons().toString());
            return "refused";
        }
        if (!v.parses()) {
            throw new AssertionError("parsed as " + img + " although the contract refuses it for " + v.reasons());
        }
        ImageOracle.checkParsed("prop", img, v);
        if (img.format() == GuestImage.Format.FLAT) {
            return "flat (magic mutated)";
        }
        Set<ImageOracle.Reason> misfit = ImageOracle.fitProblems(v, RAM, false);
        try {
            img.checkFits(RAM, 0x1000, 0xa0000);
        } catch (GuestImageException e) {
            if (misfit.isEmpty()) {
                throw new AssertionError("checkFits refused (\"" + e.getMessage() + "\") an image that fits: " + v.segments());
            }
            ImageOracle.checkRefusal("prop", e, misfit);
            return "parsed, does not fit";
        }
        if (!misfit.isEmpty()) {
            throw new AssertionError("checkFits accepted " + v.segments() + " entry 0x" + Long.toHexString(v.entry())
                    + " although it breaks " + misfit);
        }
        return FITS;
    }
}
