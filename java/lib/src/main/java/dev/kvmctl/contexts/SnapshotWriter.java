package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.function.IntPredicate;
import java.util.function.LongConsumer;

/**
 * Writes a snapshot's bytes into an open (temporary) file in {@link SnapshotFormat}'s layout; the
 * counterpart of {@link SnapshotReader}. {@link AtomicFile} makes the whole write durable and
 * atomic; {@link Snapshot#write} captures what is written.
 *
 * <pre>{@code
 * byte[] metadata = new Sections().put(Sections.MACHINE_CONFIG, GuestConfigCodec.encode(machine.config())).encode();
 * try (AtomicFile out = AtomicFile.create(path)) {
 *     SnapshotWriter.write(out.channel(), metadata, machine.ram(), MemoryIndex.of(machine.ram()), done -> {});
 *     out.commit();
 * }
 * }</pre>
 */
final class SnapshotWriter {
    private SnapshotWriter() {}

    /**
     * Writes the metadata, the memory image (the non-zero pages of the chunks {@code index} does
     * not mark zero) and last the header, which makes the file valid. The header's memory checksum
     * is combined from the index's, which {@link MemoryIndex#of} computed in parallel, so the
     * memory is read once here and zero chunks not at all. {@code progress} gets the RAM bytes
     * written so far, every 64 MiB and at the end.
     *
     * @return the file's length in bytes
     */
    static long write(FileChannel ch, byte[] metadata, GuestMemory ram, MemoryIndex index, LongConsumer progress) throws IOException {
        return write(ch, metadata, ram, index, chunk -> true, progress);
    }

    /** As above, writing only the chunks {@code stored} accepts (a diff snapshot's): the others stay holes. */
    static long write(FileChannel ch, byte[] metadata, GuestMemory ram, MemoryIndex index, IntPredicate stored,
                      LongConsumer progress) throws IOException {
        if (metadata.length > SnapshotFormat.MAX_METADATA) {
            throw new IllegalStateException("the machine's contexts take " + metadata.length + " bytes, more than a snapshot holds");
        }
        long memoryOffset = SnapshotFormat.memoryOffset(metadata.length);
        AtomicFile.writeFully(ch, ByteBuffer.wrap(metadata), SnapshotFormat.HEADER_SIZE);
        long size = ram.size();
        for (int i = 0; i < index.count(); i++) {
            long at = index.offset(i);
            int n = index.length(i);
            if (!index.isZero(i) && stored.test(i)) {
                ByteBuffer chunk = ram.slice(at, n);
                long chunkOffset = memoryOffset + at;
                SnapshotFormat.forEachDataRun(chunk, n, (from, length) ->
                        AtomicFile.writeFully(ch, chunk.slice(from, length), chunkOffset + from)); // zero pages stay holes
            }
            if (((at + n) & ((64L << 20) - 1)) == 0 || at + n == size) {
                progress.accept(at + n);
            }
        }
        long length = memoryOffset + size;
        if (ch.size() < length) { // the tail was zero pages: give the file its full length
            AtomicFile.writeFully(ch, ByteBuffer.allocate(1), length - 1);
        }
        AtomicFile.writeFully(ch, SnapshotFormat.encodeHeader(metadata.length, size,
                SnapshotFormat.crc(metadata, metadata.length), index.wholeCrc()), 0);
        return length;
    }
}
