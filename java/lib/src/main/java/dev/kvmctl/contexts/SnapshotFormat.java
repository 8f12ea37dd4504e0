package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * The layout of a snapshot file and the checks on it, apart from any I/O.
 *
 * <p>A 64-byte little-endian header: magic (8), version (4), header size (4), metadata offset (8)
 * and length (8), memory offset (8) and size (8), CRC32C of the metadata (4) and of the memory
 * image (4), CRC32C of the 56 bytes before it (4), 4 bytes of zero. Then the metadata (a
 * {@link Sections} container), then the memory image at the next page boundary, to the end of
 * the file. Every size is bounded here before anything of that size is allocated or read.
 */
final class SnapshotFormat {
    static final int HEADER_SIZE = 64;
    static final int PAGE = (int) GuestMemory.PAGE_SIZE;
    /** The metadata is a few KiB (XSAVE, CPUID, MSRs); anything larger than this is not a snapshot. */
    static final int MAX_METADATA = 1 << 20;
    /** Memory is checksummed, read and written in pieces of this size. */
    static final int CHUNK = 1 << 20;
    private static final int CONFIG_VERSION = 1;
    private static final ByteBuffer ZEROS = ByteBuffer.allocateDirect(CHUNK).asReadOnlyBuffer();

    /** A header whose fields passed every check against each other and against the file's length. */
    record Header(long metadataLength, long memoryOffset, long memorySize, int metadataCrc, int memoryCrc) {}

    private SnapshotFormat() {}

    static ByteBuffer encodeHeader(long metadataLength, long memorySize, int metadataCrc, int memoryCrc) {
        ByteBuffer h = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        h.putLong(Snapshot.MAGIC).putInt(Snapshot.VERSION).putInt(HEADER_SIZE).putLong(HEADER_SIZE).putLong(metadataLength)
                .putLong(memoryOffset(metadataLength)).putLong(memorySize).putInt(metadataCrc).putInt(memoryCrc);
        h.putInt(crc(h.array(), 56)).putInt(0).flip();
        return h;
    }

    /** Checks a header read from a file of {@code fileSize} bytes; {@link ContextFormatException} if anything is off. */
    static Header decodeHeader(ByteBuffer h, long fileSize, Path file) {
        if (h.getLong(0) != Snapshot.MAGIC) {
            throw new ContextFormatException(file + " is not a kvmctl snapshot (wrong magic number)");
        }
        int version = h.getInt(8);
        if (version != Snapshot.VERSION) {
            throw new ContextFormatException(file + " is a version " + version + " snapshot; this kvmctl reads version " + Snapshot.VERSION);
        }
        if (h.getInt(56) != crc(h.array(), 56)) {
            throw new ContextFormatException(file + " is corrupted: its header checksum does not match");
        }
        int headerSize = h.getInt(12);
        long metaOffset = h.getLong(16);
        long metaLength = h.getLong(24);
        long memoryOffset = h.getLong(32);
        long memorySize = h.getLong(40);
        if (headerSize != HEADER_SIZE || metaOffset != HEADER_SIZE || metaLength <= 0 || metaLength > MAX_METADATA
                || memoryOffset != memoryOffset(metaLength) || memorySize <= 0 || memorySize % PAGE != 0) {
            throw new ContextFormatException(file + " is corrupted: its header describes an impossible layout");
        }
        long imageBytes = fileSize - memoryOffset; // no overflow: memoryOffset is at most about 1 MiB
        if (memorySize > imageBytes) {
            throw new ContextFormatException(String.format("%s is truncated: its header promises %d bytes of memory from offset %d, "
                    + "the file has %d bytes", file, memorySize, memoryOffset, fileSize));
        }
        if (memorySize < imageBytes) {
            throw new ContextFormatException(String.format("%s is corrupted: %d bytes follow its memory image", file, imageBytes - memorySize));
        }
        return new Header(metaLength, memoryOffset, memorySize, h.getInt(48), h.getInt(52));
    }

    static long memoryOffset(long metadataLength) {
        return align(HEADER_SIZE + metadataLength);
    }

    static byte[] encodeConfig(GuestConfig c) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(CONFIG_VERSION);
            out.writeUTF(c.name());
            out.writeUTF(c.mode().name());
            out.writeInt(c.ring());
            out.writeLong(c.memorySize());
            long[] args = c.args();
            out.writeInt(args.length);
            for (long a : args) {
                out.writeLong(a);
            }
            out.writeBoolean(c.irqchip());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** The machine configuration; {@code console} may be null when only the fields are wanted. */
    static GuestConfig decodeConfig(byte[] bytes, Console console) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            if (in.readInt() != CONFIG_VERSION) {
                throw new ContextFormatException("unknown machine configuration version in snapshot");
            }
            GuestConfig.Builder b = GuestConfig.withoutImage(in.readUTF()).mode(CpuMode.valueOf(in.readUTF())).ring(in.readInt())
                    .memorySize(in.readLong());
            int count = in.readInt();
            if (count < 0 || count > BootInfo.ARGS) { // before the array: a crafted count must not allocate
                throw new ContextFormatException("the snapshot's machine configuration lists " + count
                        + " guest arguments; a guest has at most " + BootInfo.ARGS);
            }
            long[] args = new long[count];
            for (int i = 0; i < args.length; i++) {
                args[i] = in.readLong();
            }
            b.args(args).irqchip(in.readBoolean());
            if (in.available() > 0) {
                throw new ContextFormatException("the snapshot's machine configuration has " + in.available() + " stray bytes at its end");
            }
            if (console != null) {
                b.console(console);
            }
            return b.build();
        } catch (IOException | IllegalArgumentException e) {
            if (e instanceof ContextFormatException c) {
                throw c;
            }
            String why = e.getMessage() != null ? e.getMessage() : "it ends early";
            throw new ContextFormatException("the snapshot's machine configuration is unreadable: " + why);
        }
    }

    /** Whether {@code length} (at most {@link #CHUNK}) bytes of {@code buf} from {@code from} are zero. */
    static boolean isZero(ByteBuffer buf, int from, int length) {
        return buf.slice(from, length).mismatch(ZEROS.slice(0, length)) < 0; // vectorized by the JDK
    }

    static long align(long value) {
        return (value + PAGE - 1) & -PAGE;
    }

    static int crc(byte[] bytes, int length) {
        CRC32C c = new CRC32C();
        c.update(bytes, 0, length);
        return (int) c.getValue();
    }
}
