package dev.kvmctl.fuzz;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.GuestImageException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * What the image contract ({@code docs/guest-contract.md}, "Loading") says must become of some
 * bytes, worked out here from the ELF64 layout without {@link GuestImage}: refused, and for which
 * reasons, or parsed into exactly which segments and entry point; then whether those fit a guest's
 * RAM and boot area. A fuzz test compares {@link GuestImage} with this model, so a parser that
 * accepts, refuses or places something differently is caught even when nothing crashes.
 *
 * <p>Where the bytes break several rules at once, the model gives all of them and the parser may
 * name any one (the order in which it checks is its own business); where they break one, that is
 * the reason it must give.
 */
final class ImageOracle {
    private ImageOracle() {}

    /** Why an image is refused, and the words of kvmctl's message that say so. */
    enum Reason {
        EMPTY("the image is empty"),
        NEGATIVE_ADDRESS("negative load or entry address"),
        TRUNCATED_HEADER("truncated ELF header"),
        NOT_64_BIT("not a 64-bit ELF file"),
        NOT_LITTLE_ENDIAN("not a little-endian ELF file"),
        NOT_X86_64("is not x86-64"),
        NOT_EXECUTABLE("is not an executable \\(ET_EXEC\\)"),
        NO_PROGRAM_HEADERS("has no program headers"),
        PROGRAM_HEADER_TOO_SMALL("program header size \\d+ is too small"),
        PROGRAM_HEADERS_OUTSIDE("ELF program headers \\[.*lie outside the \\d+-byte file"),
        SEGMENT_OUTSIDE_FILE("segment \\d+'s file range .* lies outside the \\d+-byte file"),
        SEGMENT_SMALLER_IN_MEMORY("segment \\d+ is smaller in memory"),
        SEGMENT_OVERFLOWS("segment \\d+ at .* overflows the address space"),
        NO_LOAD_SEGMENT("has no PT_LOAD segment"),
        SEGMENTS_OVERLAP("segments at 0x[0-9a-f]+ and 0x[0-9a-f]+ overlap"),
        // Machine.boot / checkFits
        BEYOND_RAM("does not fit in \\d+ bytes of guest memory"),
        IN_BOOT_AREA("overlaps kvmctl's boot area"),
        ENTRY_OUTSIDE("entry point 0x[0-9a-f]+ is outside the loaded image"),
        REAL_MODE_ENTRY_ABOVE_1M("real-mode entry 0x[0-9a-f]+ is above 1 MiB");

        final Pattern words;

        Reason(String regex) {
            this.words = Pattern.compile(regex);
        }

        boolean matches(String message) {
            return message != null && words.matcher(message).find();
        }
    }

    /** One segment as the contract places it: {@code fileSize} bytes from {@code fileOffset}, zeros up to {@code memorySize}. */
    record Seg(long address, long memorySize, long fileOffset, long fileSize) {
        long end() {
            return address + memorySize;
        }
    }

    /**
     * The model's verdict: refused for any of {@code reasons}, or (no reasons) parsed as
     * {@code elf} or flat into {@code segments} (sorted by address) entered at {@code entry}.
     */
    record Verdict(Set<Reason> reasons, boolean elf, List<Seg> segments, long entry) {
        boolean parses() {
            return reasons.isEmpty();
        }

        static Verdict refused(Set<Reason> reasons) {
            return new Verdict(reasons, false, List.of(), 0);
        }
    }

    private static final int PT_LOAD = 1;

    /** The verdict for {@code b}; {@code load} and {@code entry} place a flat image. */
    static Verdict of(byte[] b, long load, long entry) {
        if (b.length == 0) {
            return Verdict.refused(EnumSet.of(Reason.EMPTY));
        }
        boolean magic = b.length >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
        if (!magic) {
            if (load < 0 || entry < 0) {
                return Verdict.refused(EnumSet.of(Reason.NEGATIVE_ADDRESS));
            }
            return new Verdict(EnumSet.noneOf(Reason.class), false, List.of(new Seg(load, b.length, 0, b.length)), entry);
        }
        if (b.length < 64) {
            return Verdict.refused(EnumSet.of(Reason.TRUNCATED_HEADER));
        }
        ByteBuffer in = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        Set<Reason> header = EnumSet.noneOf(Reason.class);
        if (b[4] != 2) {
            header.add(Reason.NOT_64_BIT);
        }
        if (b[5] != 1) {
            header.add(Reason.NOT_LITTLE_ENDIAN);
        }
        if (in.getShort(18) != 62) {
            header.add(Reason.NOT_X86_64);
        }
        if (in.getShort(16) != 2) {
            header.add(Reason.NOT_EXECUTABLE);
        }
        long phoff = in.getLong(32);
        int phentsize = Short.toUnsignedInt(in.getShort(54));
        int phnum = Short.toUnsignedInt(in.getShort(56));
        if (phnum == 0) {
            header.add(Reason.NO_PROGRAM_HEADERS);
        }
        if (phentsize < 56) {
            header.add(Reason.PROGRAM_HEADER_TOO_SMALL);
        }
        // The table is [phoff, phoff + phentsize * phnum): at most 65535 * 65535 bytes, no overflow in a long.
        boolean tableInside = phoff >= 0 && phoff <= b.length && (long) phentsize * phnum <= b.length - phoff;
        if (!tableInside) {
            header.add(Reason.PROGRAM_HEADERS_OUTSIDE);
        }
        if (!header.isEmpty()) {
            return Verdict.refused(header);
        }
        Set<Reason> segment = EnumSet.noneOf(Reason.class);
        List<Seg> segs = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int at = (int) (phoff + (long) i * phentsize);
            if (in.getInt(at) != PT_LOAD) {
                continue;
            }
            long offset = in.getLong(at + 8);
            long paddr = in.getLong(at + 24);
            long filesz = in.getLong(at + 32);
            long memsz = in.getLong(at + 40);
            boolean ok = true;
            if (offset < 0 || filesz < 0 || offset > b.length || filesz > b.length - offset) {
                segment.add(Reason.SEGMENT_OUTSIDE_FILE);
                ok = false;
            }
            // Guest-physical addresses are below 2^63: a p_memsz of 2^63 or more (negative as a
            // long) is both smaller than any p_filesz read the same way and beyond the address space.
            if (memsz < 0) {
                segment.add(Reason.SEGMENT_SMALLER_IN_MEMORY);
                segment.add(Reason.SEGMENT_OVERFLOWS);
                ok = false;
            } else if (memsz < filesz) {
                segment.add(Reason.SEGMENT_SMALLER_IN_MEMORY);
                ok = false;
            }
            if (paddr < 0 || (memsz >= 0 && paddr > Long.MAX_VALUE - memsz)) {
                segment.add(Reason.SEGMENT_OVERFLOWS);
                ok = false;
            }
            if (ok && memsz > 0) {
                segs.add(new Seg(paddr, memsz, offset, filesz));
            }
        }
        if (!segment.isEmpty()) {
            return Verdict.refused(segment);
        }
        if (segs.isEmpty()) {
            return Verdict.refused(EnumSet.of(Reason.NO_LOAD_SEGMENT));
        }
        segs.sort(Comparator.comparingLong(Seg::address));
        for (int i = 0; i < segs.size(); i++) {
            for (int j = i + 1; j < segs.size(); j++) {
                if (segs.get(j).address() < segs.get(i).end() && segs.get(i).address() < segs.get(j).end()) {
                    return Verdict.refused(EnumSet.of(Reason.SEGMENTS_OVERLAP));
                }
            }
        }
        return new Verdict(EnumSet.noneOf(Reason.class), true, List.copyOf(segs), in.getLong(24));
    }

    /**
     * Why {@code Machine.boot} must refuse a parsed image in {@code ram} bytes of RAM, {@code real}
     * or long mode (long mode reserves the boot area {@code [0x1000, 0xa0000)}); empty if it fits.
     */
    static Set<Reason> fitProblems(Verdict v, long ram, boolean real) {
        Set<Reason> problems = EnumSet.noneOf(Reason.class);
        long reservedStart = real ? 0 : 0x1000, reservedEnd = real ? 0 : 0xa0000;
        boolean entryInside = false;
        for (Seg s : v.segments()) {
            // Written so that nothing overflows, even for a flat image loaded near 2^63.
            if (s.address() > ram - s.memorySize()) {
                problems.add(Reason.BEYOND_RAM);
            }
            if (s.address() < reservedEnd && s.address() > reservedStart - s.memorySize()) {
                problems.add(Reason.IN_BOOT_AREA);
            }
            entryInside |= v.entry() >= s.address() && v.entry() - s.address() < s.memorySize();
        }
        if (!entryInside) {
            problems.add(Reason.ENTRY_OUTSIDE);
        }
        if (real && v.entry() >= 0x100000 && problems.isEmpty()) {
            problems.add(Reason.REAL_MODE_ENTRY_ABOVE_1M);
        }
        return problems;
    }

    /** Fails unless {@code e}'s message gives one of {@code reasons}. */
    static void checkRefusal(String what, GuestImageException e, Set<Reason> reasons) {
        for (Reason r : reasons) {
            if (r.matches(e.getMessage())) {
                return;
            }
        }
        throw new AssertionError(what + ": refused with \"" + e.getMessage() + "\", expected a refusal for " + reasons);
    }

    /** Fails unless {@code parsed} holds exactly the model's format, entry and segments. */
    static void checkParsed(String what, GuestImage parsed, Verdict v) {
        String expected = v.elf() ? "ELF" : "FLAT";
        List<Seg> got = new ArrayList<>();
        for (GuestImage.Segment s : parsed.segments()) {
            got.add(new Seg(s.address(), s.memorySize(), s.fileOffset(), s.fileSize()));
        }
        if (!parsed.format().name().equals(expected) || parsed.entry() != v.entry() || !got.equals(v.segments())) {
            throw new AssertionError(String.format("%s: parsed as %s entry 0x%x %s; the contract says %s entry 0x%x %s",
                    what, parsed.format(), parsed.entry(), got, expected, v.entry(), v.segments()));
        }
    }

    /** The byte that {@link #checkLoaded} expects wherever no segment was loaded. */
    static final byte UNTOUCHED = (byte) 0xa5;
    private static final int GUARD = 64;

    /**
     * After {@code GuestImage.loadInto(ram)} over RAM that held {@link #UNTOUCHED} everywhere:
     * every segment holds its file bytes then zeros, and the {@value #GUARD} bytes on either side
     * of it are untouched. Then puts {@link #UNTOUCHED} back over the segments for the next load.
     */
    static void checkLoaded(String what, GuestMemory ram, byte[] image, Verdict v) {
        for (Seg s : v.segments()) {
            byte[] file = Arrays.copyOfRange(image, (int) s.fileOffset(), (int) (s.fileOffset() + s.fileSize()));
            if (!Arrays.equals(file, ram.read(s.address(), file.length))) {
                throw new AssertionError(what + ": segment " + s + " does not hold the file's bytes after loading");
            }
            if (!ram.isZero(s.address() + s.fileSize(), s.memorySize() - s.fileSize())) {
                throw new AssertionError(what + ": segment " + s + " is not zero past its file bytes after loading");
            }
            for (long at : new long[] {s.address() - GUARD, s.end()}) {
                long from = Math.max(0, at), to = Math.min(ram.size(), at + GUARD);
                for (long p = from; p < to; p++) {
                    boolean inAnother = false;
                    for (Seg o : v.segments()) {
                        inAnother |= p >= o.address() && p < o.end();
                    }
                    if (!inAnother && ram.getByte(p) != UNTOUCHED) {
                        throw new AssertionError(String.format("%s: loading wrote 0x%x, outside every segment", what, p));
                    }
                }
            }
        }
        for (Seg s : v.segments()) {
            ram.fill(s.address(), s.memorySize(), UNTOUCHED);
        }
    }

    /** Whether two parsed images put the same bytes at the same places and start at the same entry. */
    static boolean sameLoad(byte[] a, Verdict va, byte[] b, Verdict vb) {
        if (va.entry() != vb.entry() || va.segments().size() != vb.segments().size()) {
            return false;
        }
        for (int i = 0; i < va.segments().size(); i++) {
            Seg x = va.segments().get(i), y = vb.segments().get(i);
            if (x.address() != y.address() || x.memorySize() != y.memorySize() || x.fileSize() != y.fileSize()
                    || !Arrays.equals(a, (int) x.fileOffset(), (int) (x.fileOffset() + x.fileSize()),
                            b, (int) y.fileOffset(), (int) (y.fileOffset() + y.fileSize()))) {
                return false;
            }
        }
        return true;
    }
}
