package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.guests.GuestConfig;
import java.io.IOException;
import java.util.List;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.zip.CRC32C;

/**
 * Reads a snapshot through one open channel, never through its path again: first the header and
 * metadata, every size bounded before it is used; then the memory image in a single pass that
 * checks its CRC32C while it copies the non-zero pages into guest memory. What is restored is
 * exactly what was checked: a file changed or truncated by someone else during the pass fails
 * the checksum or ends early, and once the pass is over the guest's memory owes the file nothing.
 *
 * <pre>{@code
 * Path file = Path.of("guest.snap");
 * try (java.nio.channels.FileChannel channel = java.nio.channels.FileChannel.open(file)) {
 *     SnapshotReader.Metadata m = SnapshotReader.readMetadata(channel, file);
 *     try (GuestMemory image = GuestMemory.anonymous(m.info().memorySize())) {
 *         SnapshotReader.readMemory(channel, file, m, image);   // ContextFormatException if it does not check out
 *         ...
 *     }
 * }
 * }</pre>
 */
final class SnapshotReader {
    /**
     * The checked header and metadata of a snapshot: {@code config} is null for a snapshot of a
     * VMM's own VM; {@code context} is what {@link VmContext#load} takes; {@code index} is null in
     * a file written without one; {@code diff} is null but in a diff snapshot.
     */
    record Metadata(Snapshot.Info info, byte[] config, Sections context, int memoryCrc, MemoryIndex index,
                    DiffSnapshot.Link diff) {}

    private SnapshotReader() {}

    /** Reads and checks everything but the memory image of a full snapshot; a diff snapshot is refused. */
    static Metadata readMetadata(FileChannel ch, Path file) throws IOException {
        Metadata m = readAnyMetadata(ch, file);
        if (m.diff() != null) {
            throw new ContextFormatException(file + " is a diff snapshot: it holds only the memory that changed since its base; "
                    + "restore it after its base (kvmctl restore BASE DIFF...)");
        }
        return m;
    }

    /** Reads and checks everything but the memory image, of a full or a diff snapshot: a few KiB, whatever the file claims. */
    static Metadata readAnyMetadata(FileChannel ch, Path file) throws IOException {
        long fileSize = ch.size();
        if (fileSize < SnapshotFormat.HEADER_SIZE) {
            throw new ContextFormatException(file + " is truncated: " + fileSize + " bytes, not even a header");
        }
        ByteBuffer header = ByteBuffer.allocate(SnapshotFormat.HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, header, 0, file);
        SnapshotFormat.Header h = SnapshotFormat.decodeHeader(header, fileSize, file);
        ByteBuffer meta = ByteBuffer.allocate((int) h.metadataLength()); // bounded by MAX_METADATA
        readFully(ch, meta, SnapshotFormat.HEADER_SIZE, file);
        if (h.metadataCrc() != SnapshotFormat.crc(meta.array(), meta.capacity())) {
            throw new ContextFormatException(file + " is corrupted: its metadata checksum does not match");
        }
        Sections s = Sections.decode(meta.array());
        byte[] config = s.has(Sections.MACHINE_CONFIG) ? s.get(Sections.MACHINE_CONFIG) : null;
        Sections hv = Sections.decode(s.get(Sections.HYPERVISOR_CONTEXT));
        Sections.decode(s.get(Sections.VCPU_CONTEXT));
        int cpus = VmContext.vcpusIn(s);
        List<String> devices = hv.has(Sections.DEVICE_STATES) ? DeviceSections.decode(hv.get(Sections.DEVICE_STATES)).names() : List.of();
        Snapshot.Info info;
        if (config == null) { // a VMM's own VM: no machine configuration
            info = new Snapshot.Info(file, null, null, 0, h.memorySize(), new long[0], hv.has(Sections.PIC_MASTER), cpus, devices,
                    h.memoryOffset(), fileSize);
        } else {
            GuestConfig c = GuestConfigCodec.decode(config, null);
            if (c.memorySize() != h.memorySize()) {
                // Before any pass over the memory: a bogus size costs nothing to refuse.
                throw new ContextFormatException(String.format("%s is corrupted: its configuration says %d bytes of RAM, its header %d",
                        file, c.memorySize(), h.memorySize()));
            }
            if (c.cpus() != cpus) {
                throw new ContextFormatException(String.format("%s is corrupted: its configuration says %d vCPUs, it holds %d vCPU contexts",
                        file, c.cpus(), cpus));
            }
            info = new Snapshot.Info(file, c.name(), c.mode(), c.ring(), h.memorySize(), c.args(), c.irqchip(), cpus, devices,
                    h.memoryOffset(), fileSize);
        }
        // Files written before the index existed have none: they restore by copying.
        MemoryIndex index = s.has(MemoryIndex.SECTION) ? MemoryIndex.decode(s.get(MemoryIndex.SECTION), h.memorySize(), file) : null;
        DiffSnapshot.Link diff = s.has(DiffSnapshot.SECTION)
                ? DiffSnapshot.Link.decode(s.get(DiffSnapshot.SECTION), index, file) : null;
        return new Metadata(info, config, s, h.memoryCrc(), index, diff);
    }

    /**
     * Reads the memory image once, checking its CRC32C; with {@code into} (zero-filled, of the
     * snapshot's size) also copies its non-zero pages there, so zero pages stay unallocated.
     * {@code into} holds garbage if this throws: the caller discards it.
     */
    static void readMemory(FileChannel ch, Path file, Metadata m, GuestMemory into) throws IOException {
        long size = m.info().memorySize();
        long offset = m.info().memoryOffset();
        ByteBuffer buf = ByteBuffer.allocateDirect(SnapshotFormat.CHUNK);
        CRC32C crc = new CRC32C();
        for (long at = 0; at < size; at += SnapshotFormat.CHUNK) {
            int n = (int) Math.min(SnapshotFormat.CHUNK, size - at);
            buf.clear().limit(n);
            readFully(ch, buf, offset + at, file);
            buf.flip();
            crc.update(buf.duplicate());
            if (into != null) {
                copyNonZeroPages(buf, n, into, at);
            }
        }
        if ((int) crc.getValue() != m.memoryCrc()) {
            throw new ContextFormatException(file + " is corrupted: its memory checksum does not match");
        }
    }

    private static void copyNonZeroPages(ByteBuffer buf, int n, GuestMemory into, long at) throws IOException {
        SnapshotFormat.forEachDataRun(buf, n, (from, length) -> {
            into.populate(at + from, length); // one call allocates the run: ~40% off a large restore here
            into.slice(at + from, length).put(buf.slice(from, length));
        });
    }

    /** Fills {@code buf} from {@code position}; a file that ends first was truncated after it was opened. */
    static void readFully(FileChannel ch, ByteBuffer buf, long position, Path file) throws IOException {
        long at = position;
        while (buf.hasRemaining()) {
            int n = ch.read(buf, at);
            if (n <= 0) {
                throw new ContextFormatException(String.format("%s ended at byte %d while it was being read: it was truncated after "
                        + "it was opened (by another process?); nothing was restored from it", file, at));
            }
            at += n;
        }
    }
}
