package dev.kvmctl.bench;

import dev.kvmctl.Kvm;
import dev.kvmctl.contexts.Snapshot;
import dev.kvmctl.guests.Machine;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.zip.CRC32C;

/**
 * Run by scripts/bench-contexts.sh: what a snapshot of {@link SnapshotBench}'s guest looks like
 * on disk and after a restore. Writes the snapshot to the given file (left there, so the script
 * can count its allocated blocks with {@code stat}), restores it, and prints:
 * <ul>
 *   <li>{@code ram-bytes N}: the guest's RAM size;
 *   <li>{@code file-bytes N}: the snapshot file's length;
 *   <li>{@code maps LINE}: each line of {@code /proc/self/maps} that maps the file while the
 *       restored guest exists (none: restore copies the RAM image into new guest memory);
 *   <li>{@code file-unchanged-after-guest-writes true|false}: whether the file's checksum is the
 *       same after 1 MiB of the restored guest's RAM was overwritten.
 * </ul>
 */
public final class SnapshotFacts {
    private SnapshotFacts() {}

    /**
     * Writes, restores and reports.
     *
     * @param args the guest's RAM in MiB, and the snapshot file to write
     * @throws IOException if the file cannot be read
     */
    public static void main(String[] args) throws IOException {
        int ramMiB = Integer.parseInt(args[0]);
        Path file = Path.of(args[1]).toAbsolutePath();
        try (Kvm kvm = Kvm.open()) {
            try (Machine m = SnapshotBench.bootFilled(kvm, ramMiB)) {
                Snapshot.write(m, file, done -> {});
                System.out.println("ram-bytes " + m.ram().size());
            }
            System.out.println("file-bytes " + Files.size(file));
            long before = checksum(file);
            try (Machine m = Snapshot.restore(kvm, file, OutputStream.nullOutputStream())) {
                for (String line : Files.readAllLines(Path.of("/proc/self/maps"))) {
                    if (line.endsWith(" " + file)) {
                        System.out.println("maps " + line);
                    }
                }
                m.ram().write(2 << 20, new byte[1 << 20]); // over the random MiB: zeros differ from it
            }
            System.out.println("file-unchanged-after-guest-writes " + (checksum(file) == before));
        }
    }

    private static long checksum(Path file) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer buf = ByteBuffer.allocateDirect(1 << 20);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            while (ch.read(buf.clear()) > 0) {
                crc.update(buf.flip());
            }
        }
        return crc.getValue();
    }
}
