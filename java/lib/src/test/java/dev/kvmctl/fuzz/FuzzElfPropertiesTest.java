package dev.kvmctl.fuzz;

import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.GuestImageException;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;

/**
 * jqwik properties of the ELF parser alone (no KVM): any mutation of a real image, and any bytes
 * behind an ELF identification, are either refused with {@link GuestImageException} or parsed into
 * segments that really lie inside the file and the address space, sorted and disjoint, for which
 * {@link GuestImage#checkFits} answers with nothing or a {@link GuestImageException}. jqwik shrinks
 * a failing case to its smallest mutation list and prints the seed to repeat it.
 */
class FuzzElfPropertiesTest {
    private static final int HEADERS_END = 64 + 56 * 4;

    private static byte[] hello;

    private static byte[] hello() {
        if (hello == null) {
            hello = BuiltinImages.bytes(BuiltinImages.find("hello-long.elf").orElseThrow());
        }
        return hello;
    }

    @Provide
    Arbitrary<List<Tuple.Tuple2<Integer, Byte>>> mutations() {
        Arbitrary<Integer> offset = Arbitraries.frequencyOf(
                Tuple.of(30, Arbitraries.integers().between(4, HEADERS_END - 1)), // past the magic: mostly still ELF
                Tuple.of(1, Arbitraries.integers().between(0, 3)),
                Tuple.of(10, Arbitraries.integers().between(0, hello().length - 1)));
        return Combinators.combine(offset, Arbitraries.bytes()).as(Tuple::of).list().ofMinSize(1).ofMaxSize(12);
    }

    @Property(tries = 4000)
    void mutatedImagesAreRefusedOrParsedSoundly(@ForAll("mutations") List<Tuple.Tuple2<Integer, Byte>> mutations,
                                                @ForAll boolean truncate,
                                                @ForAll @IntRange(min = 0, max = 16744) int truncateTo) {
        byte[] b = hello().clone();
        for (Tuple.Tuple2<Integer, Byte> m : mutations) {
            b[m.get1()] = m.get2();
        }
        if (truncate && truncateTo < b.length) {
            b = java.util.Arrays.copyOf(b, truncateTo);
        }
        collectAndCheck(b);
    }

    @Property(tries = 4000)
    void elfHeadersWithArbitraryProgramHeadersAreRefusedOrParsedSoundly(
            @ForAll @IntRange(min = -3, max = 4) int phnumOrMatch,
            @ForAll("phdrs") List<long[]> phdrs,
            @ForAll @IntRange(min = 0, max = 512) int tail,
            @ForAll long anyEntry,
            @ForAll boolean entryAtFirstSegment) {
        long entry = entryAtFirstSegment && !phdrs.isEmpty() ? phdrs.get(0)[2] : anyEntry;
        int phnum = phnumOrMatch < 0 ? phdrs.size() : phnumOrMatch;
        int size = 64 + 56 * Math.max(phnum, phdrs.size()) + tail;
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) 62).putInt(1).putLong(entry).putLong(64).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) phnum)
                .putShort((short) 64).putShort((short) 0).putShort((short) 0);
        for (int i = 0; i < phdrs.size(); i++) {
            long[] p = phdrs.get(i); // type, offset, paddr, filesz, memsz
            b.position(64 + 56 * i);
            b.putInt((int) p[0]).putInt(5).putLong(p[1]).putLong(p[2]).putLong(p[2]).putLong(p[3]).putLong(p[4]).putLong(0x1000);
        }
        collectAndCheck(b.array());
    }

    /** Program headers whose fields are mostly plausible (small offsets and sizes) and sometimes absurd. */
    @Provide
    Arbitrary<List<long[]>> phdrs() {
        Arbitrary<Long> small = Arbitraries.longs().between(0, 1024);
        Arbitrary<Long> any = Arbitraries.longs();
        Arbitrary<Long> address = Arbitraries.frequencyOf(Tuple.of(3, Arbitraries.longs().between(0, 32L << 20)), Tuple.of(1, any));
        Arbitrary<Long> offset = Arbitraries.frequencyOf(Tuple.of(8, small), Tuple.of(1, any));
        Arbitrary<Long> type = Arbitraries.frequencyOf(Tuple.of(4, Arbitraries.just(1L)), Tuple.of(1, Arbitraries.longs().between(0, 0xffffffffL)));
        return Combinators.combine(type, offset, address, offset, Arbitraries.frequencyOf(Tuple.of(4, small), Tuple.of(1, any)))
                .as((t, o, a, f, m) -> new long[] {t, o, a, f, m < f && m >= 0 && f >= 0 ? f + m : m}).list().ofMaxSize(4);
    }

    /** Collects how the bytes fare for jqwik's statistics first (a report must not be empty), then checks them. */
    private static void collectAndCheck(byte[] b) {
        String label;
        try {
            label = check(b);
        } catch (RuntimeException | AssertionError e) {
            Statistics.label("outcome").collect("failed");
            throw e;
        }
        Statistics.label("outcome").collect(label);
    }

    /** Parses; on success checks the segments are sound. Returns a label for the statistics. */
    private static String check(byte[] b) {
        GuestImage img;
        try {
            img = GuestImage.parse("prop", b, 0x100000, 0x100000);
        } catch (GuestImageException e) {
            return "refused";
        }
        boolean magic = b.length >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
        if ((img.format() == GuestImage.Format.ELF) != magic) {
            throw new AssertionError("bytes " + (magic ? "with" : "without") + " the ELF magic parsed as " + img.format());
        }
        if (img.format() == GuestImage.Format.FLAT) {
            return "flat (magic mutated)";
        }
        long previousEnd = Long.MIN_VALUE;
        for (GuestImage.Segment s : img.segments()) {
            if (s.address() < 0 || s.memorySize() <= 0 || s.end() < s.address()) {
                throw new AssertionError("segment outside the address space: " + s);
            }
            if (s.fileOffset() < 0 || s.fileSize() < 0 || (long) s.fileOffset() + s.fileSize() > b.length) {
                throw new AssertionError("segment's file range outside the " + b.length + "-byte file: " + s);
            }
            if (s.memorySize() < s.fileSize()) {
                throw new AssertionError("segment smaller in memory than in the file: " + s);
            }
            if (s.address() < previousEnd) {
                throw new AssertionError("segments out of order or overlapping: " + img.segments());
            }
            previousEnd = s.end();
        }
        try {
            img.checkFits(16 << 20, 0x1000, 0xa0000);
            return "parsed, fits";
        } catch (GuestImageException e) {
            return "parsed, does not fit";
        }
    }
}
