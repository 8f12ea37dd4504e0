package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import java.io.IOException;
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

    /**
     * A chunk of zeros to compare against, made on first use: by the thread that loads a restored
     * guest's memory, not on the way to its first {@code KVM_RUN}.
     */
    private static final class Zeros {
        static final ByteBuffer CHUNK_OF_ZEROS = ByteBuffer.allocateDirect(CHUNK).asReadOnlyBuffer();
    }

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
        if (version < 1 || version > Snapshot.VERSION) {
            throw new ContextFormatException(file + " is a version " + version + " snapshot; this kvmctl reads versions 1 to "
                    + Snapshot.VERSION + (version > Snapshot.VERSION ? ": restore it with the newer kvmctl that wrote it" : ""));
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

    /** What {@link #forEachDataRun} does with one run of non-zero pages. */
    @FunctionalInterface
    interface DataRun {
        /** Handles the {@code length} bytes of non-zero pages from {@code from} in the chunk. */
        void accept(int from, int length) throws IOException;
    }

    /**
     * Calls {@code run} for each maximal run of non-zero pages among the first {@code n} bytes of
     * {@code chunk} (at most {@link #CHUNK}), in order: a run is written or copied with one call,
     * and zero pages are skipped, so they stay holes in the file and unallocated in memory.
     */
    static void forEachDataRun(ByteBuffer chunk, int n, DataRun run) throws IOException {
        if (isZero(chunk, 0, n)) {
            return; // most of a fresh guest's memory: one comparison instead of 256
        }
        int start = -1; // the first page of the run being gathered
        for (int page = 0; page <= n; page += PAGE) {
            boolean data = page < n && !isZero(chunk, page, PAGE);
            if (data && start < 0) {
                start = page;
            } else if (!data && start >= 0) {
                run.accept(start, page - start);
                start = -1;
            }
        }
    }

    /** Whether {@code length} (at most {@link #CHUNK}) bytes of {@code buf} from {@code from} are zero. */
    static boolean isZero(ByteBuffer buf, int from, int length) {
        return buf.slice(from, length).mismatch(Zeros.CHUNK_OF_ZEROS.slice(0, length)) < 0; // vectorized by the JDK
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
