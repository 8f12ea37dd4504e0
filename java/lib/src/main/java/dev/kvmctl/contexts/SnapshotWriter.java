package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * Writes a snapshot's bytes into an open (temporary) file in {@link SnapshotFormat}'s layout; the
 * counterpart of {@link SnapshotReader}. {@link AtomicFile} makes the whole write durable and
 * atomic; {@link Snapshot#write} captures what is written.
 *
 * <pre>{@code
 * byte[] metadata = new Sections().put(Sections.MACHINE_CONFIG, GuestConfigCodec.encode(machine.config())).encode();
 * try (AtomicFile out = AtomicFile.create(path)) {
 *     SnapshotWriter.write(out.channel(), metadata, machine.ram(), done -> {});
 *     out.commit();
 * }
 * }</pre>
 */
final class SnapshotWriter {
    private SnapshotWriter() {}

    /**
     * Writes the metadata, the memory image (its non-zero pages only) and last the header, which
     * makes the file valid. {@code progress} gets the RAM bytes written so far, every 64 MiB and at
     * the end.
     *
     * @return the file's length in bytes
     */
    static long write(FileChannel ch, byte[] metadata, GuestMemory ram, LongConsumer progress) throws IOException {
        if (metadata.length > SnapshotFormat.MAX_METADATA) {
            throw new IllegalStateException("the machine's contexts take " + metadata.length + " bytes, more than a snapshot holds");
        }
        long memoryOffset = SnapshotFormat.memoryOffset(metadata.length);
        AtomicFile.writeFully(ch, ByteBuffer.wrap(metadata), SnapshotFormat.HEADER_SIZE);
        CRC32C memoryCrc = new CRC32C();
        long size = ram.size();
        for (long at = 0; at < size; at += SnapshotFormat.CHUNK) {
            int n = (int) Math.min(SnapshotFormat.CHUNK, size - at);
            ByteBuffer chunk = ram.slice(at, n);
            memoryCrc.update(chunk.duplicate());
            long chunkOffset = memoryOffset + at;
            SnapshotFormat.forEachDataRun(chunk, n, (from, length) ->
                    AtomicFile.writeFully(ch, chunk.slice(from, length), chunkOffset + from)); // zero pages stay holes
            if (((at + n) & ((64L << 20) - 1)) == 0 || at + n == size) {
                progress.accept(at + n);
            }
        }
        long length = memoryOffset + size;
        if (ch.size() < length) { // the tail was zero pages: give the file its full length
            AtomicFile.writeFully(ch, ByteBuffer.allocate(1), length - 1);
        }
        AtomicFile.writeFully(ch, SnapshotFormat.encodeHeader(metadata.length, size,
                SnapshotFormat.crc(metadata, metadata.length), (int) memoryCrc.getValue()), 0);
        return length;
    }
}
