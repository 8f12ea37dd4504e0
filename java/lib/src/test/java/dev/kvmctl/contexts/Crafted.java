package dev.kvmctl.contexts;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.UnaryOperator;

/**
 * Test helper: hostile snapshots that pass every checksum. Takes a good snapshot apart (header,
 * metadata, memory image), lets a test change a part, and writes it back with every CRC
 * recomputed, so that only the bounds checks stand between the file and the restore.
 */
final class Crafted {
    private Crafted() {}

    /** The snapshot's header fields, read with no checks. */
    record Header(long metadataLength, long memoryOffset, long memorySize, int metadataCrc, int memoryCrc) {}

    static Header header(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer h = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(h, 0);
            return new Header(h.getLong(24), h.getLong(32), h.getLong(40), h.getInt(48), h.getInt(52));
        }
    }

    static Sections metadata(Path file) throws IOException {
        Header h = header(file);
        try (FileChannel ch = FileChannel.open(file)) {
            ByteBuffer m = ByteBuffer.allocate((int) h.metadataLength());
            ch.read(m, 64);
            return Sections.decode(m.array());
        }
    }

    /**
     * Writes {@code to}: {@code from} with its metadata replaced by {@code edit(metadata)} and its
     * header claiming {@code memorySize} bytes of memory; the memory image is copied unchanged.
     * Every checksum is made to match.
     */
    static void rewrite(Path from, Path to, UnaryOperator<Sections> edit, long memorySize) throws IOException {
        Header h = header(from);
        byte[] meta = edit.apply(metadata(from)).encode();
        writeRaw(from, to, meta, meta.length, memorySize, h.memoryCrc());
    }

    /** As {@link #rewrite}, with the header's metadata length set to {@code claimedLength} whatever the metadata's. */
    static void writeRaw(Path from, Path to, byte[] meta, long claimedLength, long memorySize, int memoryCrc) throws IOException {
        Header h = header(from);
        ByteBuffer header = SnapshotFormat.encodeHeader(claimedLength, memorySize, SnapshotFormat.crc(meta, meta.length), memoryCrc);
        long memoryOffset = SnapshotFormat.memoryOffset(meta.length);
        try (FileChannel in = FileChannel.open(from);
             FileChannel out = FileChannel.open(to, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                     StandardOpenOption.TRUNCATE_EXISTING)) {
            out.write(header, 0);
            out.write(ByteBuffer.wrap(meta), 64);
            long copied = 0;
            while (copied < h.memorySize()) {
                copied += in.transferTo(h.memoryOffset() + copied, h.memorySize() - copied, out.position(memoryOffset + copied));
            }
        }
    }

    /** The metadata with its machine configuration replaced. */
    static UnaryOperator<Sections> config(byte[] config) {
        return s -> s.put(Sections.MACHINE_CONFIG, config);
    }

    /** A machine configuration as kvmctl encodes it, with any argument count (and no arguments after it). */
    static byte[] configWithArgumentCount(String name, long memorySize, int count) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(1);
            out.writeUTF(name);
            out.writeUTF("LONG");
            out.writeInt(3);
            out.writeLong(memorySize);
            out.writeInt(count);
            out.writeBoolean(false);
        }
        return bytes.toByteArray();
    }
}
