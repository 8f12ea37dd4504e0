package dev.kvmctl.guests;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.internal.InputFile;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A guest program ready to be copied into guest memory: an ELF64 executable (each {@code PT_LOAD}
 * at its physical address, entry from the header) or a flat binary (loaded and entered at given
 * addresses). The two are told apart by the ELF magic.
 *
 * <pre>{@code
 * GuestImage image = GuestImage.read(Path.of("hello-long.elf"), 0x100000, 0x100000);
 * image.checkFits(ram.size(), BootSetup.BOOT_AREA_START, BootSetup.BOOT_AREA_END);
 * image.loadInto(ram);
 * vcpu.setRegs(vcpu.getRegs().rip(image.entry()));
 * }</pre>
 *
 * <p>Immutable; the bytes are the caller's copy, never shared.
 */
public final class GuestImage {
    /** The largest image file kvmctl reads: 1 GiB. */
    public static final long MAX_FILE_SIZE = 1L << 30;

    private static final int PT_LOAD = 1;
    private static final int EM_X86_64 = 62;
    private static final int ET_EXEC = 2;

    /**
     * One region to copy: {@code fileSize} bytes from the file, then zeros up to {@code memorySize}.
     *
     * @param address the guest-physical address of its first byte
     * @param memorySize the bytes it occupies in guest memory, at least {@code fileSize}
     * @param fileOffset where its bytes start in the image file
     * @param fileSize how many bytes come from the file
     */
    public record Segment(long address, long memorySize, int fileOffset, int fileSize) {
        /** {@return one past the segment's last guest-physical address} */
        public long end() {
            return address + memorySize;
        }
    }

    /** Whether it was an ELF file or a flat binary. */
    public enum Format {
        /** An ELF64 x86-64 executable: segments and entry come from its headers. */
        ELF,
        /** Anything else: one segment of the whole file, at the load address given. */
        FLAT
    }

    private final String name;
    private final Format format;
    private final byte[] bytes;
    private final List<Segment> segments;
    private final long entry;

    private GuestImage(String name, Format format, byte[] bytes, List<Segment> segments, long entry) {
        this.name = name;
        this.format = format;
        this.bytes = bytes;
        this.segments = List.copyOf(segments);
        this.entry = entry;
    }

    /**
     * Reads and parses an image file of at most {@link #MAX_FILE_SIZE} bytes; {@code loadAddress}
     * and {@code entry} apply to flat binaries only. See {@link #read(Path, long, long, long)}.
     *
     * @param file the image file
     * @param loadAddress where a flat binary goes, guest-physical
     * @param entry where a flat binary starts
     * @return the parsed image
     * @throws GuestImageException the file is missing, unreadable, not a regular file, too large
     *     or malformed
     * @throws UncheckedIOException reading failed (an I/O error); the message names the file
     */
    public static GuestImage read(Path file, long loadAddress, long entry) {
        return read(file, loadAddress, entry, MAX_FILE_SIZE);
    }

    /**
     * Reads and parses an image file of at most {@code maxBytes} bytes (and never more than
     * {@link #MAX_FILE_SIZE}). The file is opened once and read through that one descriptor, so
     * it cannot be swapped for another between a check and the read; whatever is not a regular
     * file (a directory, a FIFO, a device such as {@code /dev/zero}, a socket) is refused without
     * reading a byte, and a file longer than the bound is refused as soon as that shows.
     * {@code maxBytes} is meant to be the guest's RAM size: an image file larger than the memory
     * it is loaded into is mostly sections that are never loaded (debug information).
     *
     * @param file the image file
     * @param loadAddress where a flat binary goes, guest-physical
     * @param entry where a flat binary starts
     * @param maxBytes the largest file to accept, in bytes
     * @return the parsed image
     * @throws GuestImageException the file is missing, unreadable, not a regular file, too large
     *     or malformed (the caller's input to fix)
     * @throws UncheckedIOException reading failed (an I/O error); the message names the file
     */
    public static GuestImage read(Path file, long loadAddress, long entry, long maxBytes) {
        long limit = Math.min(maxBytes, MAX_FILE_SIZE);
        byte[] bytes;
        try (InputFile in = InputFile.open(file)) {
            if (in.kind() != InputFile.Kind.REGULAR) {
                throw new GuestImageException(file + " is a " + in.kind().description()
                        + ", not a regular file; give an image file or the name of a built-in image");
            }
            bytes = in.readAll(limit);
        } catch (InputFile.FileTooLargeException e) {
            throw new GuestImageException(file + " is larger than " + (limit < MAX_FILE_SIZE
                    ? "the guest's " + limit + " bytes of RAM; give it more memory (--mem)"
                    : "the " + limit + " bytes kvmctl reads at most; remove what the guest does not load")
                    + " or strip the file (strip --strip-debug)");
        } catch (NoSuchFileException | AccessDeniedException | InputFile.UnusableFileException e) {
            throw new GuestImageException("cannot open guest image " + file + ": " + e.getReason());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read guest image " + e.getMessage(), e);
        }
        return parse(file.toString(), bytes, loadAddress, entry);
    }

    /**
     * Parses image bytes already in memory: an ELF64 executable by its headers, anything else as
     * a flat binary.
     *
     * @param name what messages call the image
     * @param bytes the image file's contents; kept, not copied: do not change them afterwards
     * @param loadAddress where a flat binary goes, guest-physical
     * @param entry where a flat binary starts
     * @return the parsed image
     * @throws GuestImageException for an empty or malformed image (the message says what is wrong)
     */
    public static GuestImage parse(String name, byte[] bytes, long loadAddress, long entry) {
        Objects.requireNonNull(bytes, "bytes");
        if (bytes.length == 0) {
            throw new GuestImageException(name + ": the image is empty");
        }
        if (isElf(bytes)) {
            return parseElf(name, bytes);
        }
        if (loadAddress < 0 || entry < 0) {
            throw new GuestImageException(name + ": negative load or entry address");
        }
        return new GuestImage(name, Format.FLAT, bytes,
                List.of(new Segment(loadAddress, bytes.length, 0, bytes.length)), entry);
    }

    private static boolean isElf(byte[] b) {
        return b.length >= 4 && b[0] == 0x7f && b[1] == 'E' && b[2] == 'L' && b[3] == 'F';
    }

    private static GuestImage parseElf(String name, byte[] bytes) {
        ByteBuffer elf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < 64) {
            throw new GuestImageException(name + ": truncated ELF header (" + bytes.length + " of 64 bytes)");
        }
        if (bytes[4] != 2) {
            throw new GuestImageException(name + ": not a 64-bit ELF file (EI_CLASS " + bytes[4] + ")");
        }
        if (bytes[5] != 1) {
            throw new GuestImageException(name + ": not a little-endian ELF file");
        }
        int type = Short.toUnsignedInt(elf.getShort(16));
        int machine = Short.toUnsignedInt(elf.getShort(18));
        if (machine != EM_X86_64) {
            throw new GuestImageException(name + ": ELF machine " + machine + " is not x86-64 (62)");
        }
        if (type != ET_EXEC) {
            throw new GuestImageException(name + ": ELF type " + type + " is not an executable (ET_EXEC); link with -static -no-pie");
        }
        long entry = elf.getLong(24);
        long phoff = elf.getLong(32);
        int phentsize = Short.toUnsignedInt(elf.getShort(54));
        int phnum = Short.toUnsignedInt(elf.getShort(56));
        if (phnum == 0) {
            throw new GuestImageException(name + ": ELF file has no program headers");
        }
        if (phentsize < 56) {
            throw new GuestImageException(name + ": ELF program header size " + phentsize + " is too small");
        }
        if (phoff < 0 || phoff > bytes.length || (long) phentsize * phnum > bytes.length - phoff) {
            throw new GuestImageException(name + ": ELF program headers [" + phoff + ", +" + (long) phentsize * phnum
                    + ") lie outside the " + bytes.length + "-byte file");
        }
        List<Segment> segments = new ArrayList<>();
        for (int i = 0; i < phnum; i++) {
            int at = (int) (phoff + (long) i * phentsize);
            if (elf.getInt(at) != PT_LOAD) {
                continue;
            }
            long offset = elf.getLong(at + 8);
            long paddr = elf.getLong(at + 24);
            long filesz = elf.getLong(at + 32);
            long memsz = elf.getLong(at + 40);
            if (offset < 0 || filesz < 0 || offset > bytes.length || filesz > bytes.length - offset) {
                throw new GuestImageException(String.format("%s: segment %d's file range [0x%x, +0x%x) lies outside the %d-byte file",
                        name, i, offset, filesz, bytes.length));
            }
            if (memsz < filesz) {
                throw new GuestImageException(String.format("%s: segment %d is smaller in memory (0x%x) than in the file (0x%x)",
                        name, i, memsz, filesz));
            }
            if (paddr < 0 || paddr + memsz < paddr) {
                throw new GuestImageException(String.format("%s: segment %d at 0x%x + 0x%x overflows the address space", name, i, paddr, memsz));
            }
            if (memsz > 0) {
                segments.add(new Segment(paddr, memsz, (int) offset, (int) filesz));
            }
        }
        if (segments.isEmpty()) {
            throw new GuestImageException(name + ": ELF file has no PT_LOAD segment");
        }
        segments.sort((a, b) -> Long.compare(a.address(), b.address()));
        for (int i = 1; i < segments.size(); i++) {
            if (segments.get(i).address() < segments.get(i - 1).end()) {
                throw new GuestImageException(String.format("%s: segments at 0x%x and 0x%x overlap",
                        name, segments.get(i - 1).address(), segments.get(i).address()));
            }
        }
        return new GuestImage(name, Format.ELF, bytes, segments, entry);
    }

    /** {@return what messages call the image: its file name, or the name given to {@link #parse}} */
    public String name() {
        return name;
    }

    /** {@return whether it was read as an ELF executable or a flat binary} */
    public Format format() {
        return format;
    }

    /** {@return the guest address of the first instruction: the ELF entry, or the one given for a flat binary} */
    public long entry() {
        return entry;
    }

    /** {@return the regions the image occupies, by address, never overlapping; an unmodifiable list} */
    public List<Segment> segments() {
        return segments;
    }

    /** {@return the lowest guest-physical address the image occupies} */
    public long lowestAddress() {
        return segments.get(0).address();
    }

    /** {@return one past the highest guest-physical address the image occupies} */
    public long highestAddress() {
        return segments.stream().mapToLong(Segment::end).max().orElseThrow();
    }

    /**
     * Checks that the image fits in {@code [0, ramSize)} without touching {@code [reservedStart,
     * reservedEnd)} (kvmctl's boot area), and that the entry point lies inside a segment.
     *
     * @param ramSize the guest's RAM in bytes
     * @param reservedStart the first byte the image must not touch
     * @param reservedEnd one past the last byte it must not touch; equal to {@code reservedStart} for none
     * @throws GuestImageException naming the segment that does not fit, or the stray entry point
     */
    public void checkFits(long ramSize, long reservedStart, long reservedEnd) {
        for (Segment s : segments) {
            if (s.end() > ramSize) {
                throw new GuestImageException(String.format(
                        "%s: segment [0x%x, 0x%x) does not fit in %d bytes of guest memory; use a larger --mem", name,
                        s.address(), s.end(), ramSize));
            }
            if (s.address() < reservedEnd && s.end() > reservedStart) {
                throw new GuestImageException(String.format(
                        "%s: segment [0x%x, 0x%x) overlaps kvmctl's boot area [0x%x, 0x%x); load it at 0x100000 or above",
                        name, s.address(), s.end(), reservedStart, reservedEnd));
            }
        }
        boolean entryInside = segments.stream().anyMatch(s -> entry >= s.address() && entry < s.end());
        if (!entryInside) {
            throw new GuestImageException(String.format("%s: entry point 0x%x is outside the loaded image", name, entry));
        }
    }

    /**
     * Copies the image into {@code ram} (guest-physical address = offset in {@code ram}), zeroing
     * what each segment has beyond its file bytes; if a segment lies outside {@code ram}, refuses
     * before writing anything.
     *
     * @param ram the guest's RAM, mapped at guest-physical 0
     * @throws GuestImageException if a segment lies outside {@code ram}
     */
    public void loadInto(GuestMemory ram) {
        for (Segment s : segments) { // all checked first: a refused image must leave RAM as it was
            if (s.end() > ram.size()) {
                throw new GuestImageException(String.format("%s: segment [0x%x, 0x%x) is outside %d bytes of guest memory",
                        name, s.address(), s.end(), ram.size()));
            }
        }
        for (Segment s : segments) {
            ram.write(s.address(), bytes, s.fileOffset(), s.fileSize());
            if (s.memorySize() > s.fileSize()) {
                ram.fill(s.address() + s.fileSize(), s.memorySize() - s.fileSize(), (byte) 0);
            }
        }
    }

    @Override
    public String toString() {
        return String.format("%s (%s, %d segment(s), entry 0x%x)", name, format, segments.size(), entry);
    }
}
