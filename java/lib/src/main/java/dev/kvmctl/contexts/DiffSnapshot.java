package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.function.LongConsumer;

/**
 * A snapshot that holds only the memory that changed since its base (a full snapshot or another
 * diff): the machine's configuration and contexts in full, the memory index of its whole memory,
 * and the data of the chunks whose checksum differs from the base's; the other chunks are holes
 * in the file. The base is named by its content ({@link MemoryIndex#id}: the whole image's
 * CRC32C and the index's own), not by its path, so a chain restores only onto the bases it was
 * taken from. {@link LazyRestore#start(dev.kvmctl.Kvm, Path, java.util.List, java.io.OutputStream)}
 * restores a base and a chain of diffs; each chunk comes from the last file of the chain that
 * holds it and is checked against the last diff's index.
 *
 * <p>Which chunks changed is found by checksumming the machine's memory (the same parallel pass a
 * full snapshot makes) and comparing with the base's index, not from KVM's dirty log: it sees
 * every write, the host's too, needs no dirty logging on the machine's memory, and works for any
 * restored or booted machine. Its unit is the index's chunk (1 MiB), and a change whose chunk
 * checksum collides with the old one's (a 2^-32 chance per changed chunk) would be missed.
 *
 * <pre>{@code
 * Snapshot.write(machine, Path.of("base.snap"), done -> {});
 * machine.run(Duration.ofMillis(50));                                  // it changes some memory
 * DiffSnapshot.write(machine, Path.of("base.snap"), Path.of("1.diff"), done -> {});
 * LazyRestore again = LazyRestore.start(kvm, Path.of("base.snap"), List.of(Path.of("1.diff")), System.out);
 * }</pre>
 */
public final class DiffSnapshot {
    /** The metadata section that makes a snapshot a diff: its base's id and the chunks it holds. */
    static final int SECTION = 41;

    /**
     * A diff's link to its base: the base's {@link MemoryIndex#id} and, per chunk, whether this
     * file holds it.
     */
    record Link(long baseId, boolean[] stored) {
        /** Base id (long), then one byte per chunk of the diff's memory index: 1 where this file holds it. */
        byte[] encode() {
            ByteBuffer b = ByteBuffer.allocate(8 + stored.length).order(ByteOrder.LITTLE_ENDIAN).putLong(baseId);
            for (boolean s : stored) {
                b.put((byte) (s ? 1 : 0));
            }
            return b.array();
        }

        static Link decode(byte[] bytes, MemoryIndex index, Path file) {
            if (index == null || bytes.length != 8 + index.count()) {
                throw new ContextFormatException(file + " is corrupted: its diff section does not match its memory index");
            }
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            boolean[] stored = new boolean[index.count()];
            for (int i = 0; i < stored.length; i++) {
                byte flag = b.get(8 + i);
                if (flag != 0 && flag != 1) {
                    throw new ContextFormatException(file + " is corrupted: its diff section flags chunk " + i + " with " + flag);
                }
                stored[i] = flag == 1;
            }
            return new Link(b.getLong(0), stored);
        }
    }

    private DiffSnapshot() {}

    /**
     * Captures {@code machine} (which must not be running) and writes to {@code file} what changed
     * since {@code base}, replacing any previous file there atomically, as {@link Snapshot#write}
     * does.
     *
     * @param machine the machine: stopped or between slices, with no shared region, with the
     *     base's memory size and irqchip
     * @param base the snapshot (full or diff) the changes are counted from; it must have a memory
     *     index (any snapshot this kvmctl wrote has one)
     * @param file where to write the diff
     * @param progress called with the RAM bytes gone through so far, on the calling thread
     * @return the diff file's length in bytes (unchanged chunks are holes: it takes less disk)
     * @throws ContextFormatException if {@code base} is not an intact snapshot with a memory index,
     *     or does not fit {@code machine}
     * @throws IllegalArgumentException if {@code file} cannot be a snapshot, or {@code machine}
     *     maps a shared region
     * @throws UncheckedIOException if reading the base or writing fails; the messages name the file
     */
    public static long write(Machine machine, Path base, Path file, LongConsumer progress) {
        MemoryIndex baseIndex = baseIndex(base, machine.ram().size(), machine.config().irqchip(), machine.name());
        return Snapshot.write(machine, file, progress, index -> {
            boolean[] stored = new boolean[index.count()];
            for (int i = 0; i < stored.length; i++) {
                stored[i] = index.crc(i) != baseIndex.crc(i) || index.isZero(i) != baseIndex.isZero(i);
            }
            return new Link(baseIndex.id(), stored);
        });
    }

    /**
     * Checks, from its header and metadata only (the memory is not read), that {@code base} can be
     * the base of a diff of a machine with {@code memorySize} bytes of RAM and, or without, an
     * irqchip: what {@link #write} checks first, for a caller that wants to fail before the
     * machine runs.
     *
     * @param base the snapshot (full or diff) a diff would be taken from
     * @param memorySize the machine's RAM in bytes
     * @param irqchip whether the machine has an in-kernel irqchip
     * @throws ContextFormatException if {@code base} is not an intact snapshot with a memory index,
     *     or was taken from a machine of another memory size or irqchip
     * @throws UncheckedIOException if reading it fails (a missing file too); the message names it
     */
    public static void checkBase(Path base, long memorySize, boolean irqchip) {
        baseIndex(base, memorySize, irqchip, String.format("the new machine (%d bytes%s)", memorySize, irqchip ? ", an irqchip" : ""));
    }

    private static MemoryIndex baseIndex(Path base, long memorySize, boolean irqchip, String machine) {
        SnapshotReader.Metadata b;
        try (FileChannel ch = Snapshot.open(base)) {
            b = SnapshotReader.readAnyMetadata(ch, base);
        } catch (IOException e) {
            throw Snapshot.readError(base, e);
        }
        if (b.index() == null) {
            throw new ContextFormatException(base + " has no memory index (written by an older kvmctl): "
                    + "write a full snapshot first and take diffs from that one");
        }
        if (b.info().memorySize() != memorySize || b.info().irqchip() != irqchip) {
            throw new ContextFormatException(String.format("%s was taken from a machine with %d bytes of RAM%s; %s differs",
                    base, b.info().memorySize(), b.info().irqchip() ? " and an irqchip" : "", machine));
        }
        return b.index();
    }

    /**
     * Checks that {@code diff} (read from {@code diffFile}) was taken from {@code base} (read from
     * {@code baseFile}, itself a full snapshot or a diff already checked): it is a diff, of the
     * same memory size, whose base id is the base's, and the chunks it does not hold have the
     * base's checksums.
     */
    static void checkLink(SnapshotReader.Metadata base, Path baseFile, SnapshotReader.Metadata diff, Path diffFile) {
        if (diff.diff() == null) {
            throw new ContextFormatException(diffFile + " is a full snapshot, not a diff: only the first file of a chain is full");
        }
        if (diff.info().memorySize() != base.info().memorySize()) {
            throw new ContextFormatException(String.format("%s holds %d bytes of RAM, its base %s %d: it is not a diff of that base",
                    diffFile, diff.info().memorySize(), baseFile, base.info().memorySize()));
        }
        long baseId = base.index().id();
        if (diff.diff().baseId() != baseId) {
            throw new ContextFormatException(String.format("%s was not taken from %s: it names a base with id %016x, %s has id %016x; "
                    + "give the snapshot it was taken from, and the diffs in the order they were written",
                    diffFile, baseFile, diff.diff().baseId(), baseFile, baseId));
        }
        for (int c = 0; c < diff.index().count(); c++) {
            if (!diff.diff().stored()[c]
                    && (diff.index().crc(c) != base.index().crc(c) || diff.index().isZero(c) != base.index().isZero(c))) {
                throw new ContextFormatException(diffFile + " is corrupted: it does not hold chunk " + c
                        + ", yet its checksum differs from its base's");
            }
        }
    }
}
