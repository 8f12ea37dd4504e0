package dev.kvmctl.contexts;

import dev.kvmctl.Kvm;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.GuestMemory;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.function.LongConsumer;
import java.util.zip.CRC32C;

/**
 * A stopped machine on disk: its configuration, both context levels and its RAM, in one
 * versioned, checksummed file that a new process restores.
 *
 * <p>Layout: a 64-byte header; the metadata (a {@link Sections} container); then the RAM image at
 * a page-aligned offset. Only non-zero pages are written, so zero pages stay holes in a sparse
 * file; a restore maps the RAM image straight from the file (private, copy-on-write) instead of
 * copying it. Every byte is covered by a CRC32C that is checked before anything is restored.
 *
 * <pre>{@code
 * RunResult r = machine.run(...);              // stopped with machine.requestStop()
 * Snapshot.write(machine, Path.of("guest.snap"), done -> {});
 * // later, in another process:
 * try (Machine again = Snapshot.restore(kvm, Path.of("guest.snap"), System.out)) {
 *     again.run(Duration.ofSeconds(10));
 * }
 * }</pre>
 */
public final class Snapshot {
    /** "KVMCSNAP". */
    public static final long MAGIC = 0x50414e53434d564bL;
    public static final int VERSION = 1;
    private static final int HEADER_SIZE = 64;
    private static final int PAGE = (int) GuestMemory.PAGE_SIZE;
    private static final int CHUNK = 1 << 20;

    /** What the header and metadata of a snapshot file say. */
    public record Info(Path file, String name, CpuMode mode, int ring, long memorySize, long[] args, boolean irqchip,
                       long memoryOffset, long storedBytes) {}

    private Snapshot() {}

    /**
     * Captures {@code machine} (which must not be running) and writes it to {@code file}.
     * {@code progress} gets the RAM bytes written so far, every 64 MiB and at the end.
     *
     * @return the file's size on disk in bytes (zero pages are holes)
     */
    public static long write(Machine machine, Path file, LongConsumer progress) {
        if (!machine.config().shared().isEmpty()) {
            throw new IllegalArgumentException(machine.name() + " maps a shared region: a snapshot of one of its VMs "
                    + "would leave the others inconsistent, so kvmctl does not take one");
        }
        MachineContext ctx = new MachineContext(machine);
        ctx.capture(machine);
        byte[] metadata = new Sections().put(Sections.MACHINE_CONFIG, encodeConfig(machine.config()))
                .put(Sections.HYPERVISOR_CONTEXT, ctx.hypervisor().encode())
                .put(Sections.VCPU_CONTEXT, ctx.vcpu().encode()).encode();
        GuestMemory ram = machine.ram();
        long memoryOffset = align(HEADER_SIZE + metadata.length);
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.READ)) {
            ch.write(ByteBuffer.wrap(metadata), HEADER_SIZE);
            CRC32C memoryCrc = new CRC32C();
            long size = ram.size();
            for (long at = 0; at < size; at += CHUNK) {
                int n = (int) Math.min(CHUNK, size - at);
                ByteBuffer chunk = ram.slice(at, n);
                memoryCrc.update(chunk.duplicate());
                for (int page = 0; page < n; page += PAGE) {
                    if (!ram.isZero(at + page, PAGE)) {
                        ch.write(chunk.slice(page, PAGE), memoryOffset + at + page);
                    }
                }
                if (((at + n) & ((64L << 20) - 1)) == 0 || at + n == size) {
                    progress.accept(at + n);
                }
            }
            if (ch.size() < memoryOffset + size) { // the tail was zero pages: give the file its full length
                ch.write(ByteBuffer.allocate(1), memoryOffset + size - 1);
            }
            ByteBuffer header = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            header.putLong(MAGIC).putInt(VERSION).putInt(HEADER_SIZE).putLong(HEADER_SIZE).putLong(metadata.length)
                    .putLong(memoryOffset).putLong(size).putInt(crc(metadata)).putInt((int) memoryCrc.getValue());
            header.putInt(crc(header.array(), 56)).putInt(0).flip();
            ch.write(header, 0);
            ch.force(true);
            return Files.size(file);
        } catch (IOException e) {
            throw new UncheckedIOException("could not write snapshot " + file + ": " + e.getMessage(), e);
        }
    }

    /** Reads and checks a snapshot's header, metadata and memory checksum; restores nothing. */
    public static Info inspect(Path file) {
        return open(file).info;
    }

    /**
     * Restores the snapshot as a new machine whose console goes to {@code console}: checks
     * everything first, maps the RAM image from the file, builds a VM, restores both context levels.
     */
    public static Machine restore(Kvm kvm, Path file, java.io.OutputStream console) {
        Opened o = open(file);
        GuestConfig config = decodeConfig(o.config, new dev.kvmctl.guests.devices.Console(console, null));
        GuestMemory ram = GuestMemory.mapFile(file, o.info.memoryOffset(), o.info.memorySize());
        Machine machine;
        try {
            machine = Machine.adopt(kvm, config, ram);
        } catch (RuntimeException e) {
            ram.close();
            throw e;
        }
        try {
            loadContext(machine, o).restore(machine);
            return machine;
        } catch (RuntimeException e) {
            machine.close();
            throw e;
        }
    }

    /**
     * Restores the snapshot into an existing machine, whose RAM must be the snapshot's size and
     * whose VM must have the same devices; copies the RAM image into it.
     */
    public static void restoreInto(Machine machine, Path file) {
        Opened o = open(file);
        if (machine.ram().size() != o.info.memorySize()) {
            throw new ContextFormatException(String.format("%s holds %d bytes of RAM, but %s has %d: refusing to restore",
                    file, o.info.memorySize(), machine.name(), machine.ram().size()));
        }
        if (machine.config().irqchip() != o.info.irqchip()) {
            throw new ContextFormatException(file + " was taken from a VM " + (o.info.irqchip() ? "with" : "without")
                    + " an in-kernel irqchip; " + machine.name() + " differs");
        }
        MachineContext ctx = loadContext(machine, o); // parsed and checked before memory is touched
        try (GuestMemory image = GuestMemory.mapFile(file, o.info.memoryOffset(), o.info.memorySize())) {
            machine.ram().copyFrom(image, 0, 0, image.size());
        }
        machine.rebuildVm();
        ctx.restore(machine);
    }

    private static MachineContext loadContext(Machine machine, Opened o) {
        MachineContext ctx = new MachineContext(machine);
        ctx.hypervisor().load(o.hypervisor);
        ctx.vcpu().load(o.vcpu);
        return ctx;
    }

    private record Opened(Info info, byte[] config, Sections hypervisor, Sections vcpu) {}

    private static Opened open(Path file) {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long fileSize = ch.size();
            if (fileSize < HEADER_SIZE) {
                throw new ContextFormatException(file + " is truncated: " + fileSize + " bytes, not even a header");
            }
            ByteBuffer header = ByteBuffer.allocate(HEADER_SIZE).order(ByteOrder.LITTLE_ENDIAN);
            ch.read(header, 0);
            header.flip();
            if (header.getLong(0) != MAGIC) {
                throw new ContextFormatException(file + " is not a kvmctl snapshot (wrong magic number)");
            }
            int version = header.getInt(8);
            if (version != VERSION) {
                throw new ContextFormatException(file + " is a version " + version + " snapshot; this kvmctl reads version " + VERSION);
            }
            if (header.getInt(56) != crc(header.array(), 56)) {
                throw new ContextFormatException(file + " is corrupted: its header checksum does not match");
            }
            long metaOffset = header.getLong(16);
            long metaLength = header.getLong(24);
            long memoryOffset = header.getLong(32);
            long memorySize = header.getLong(40);
            if (metaOffset != HEADER_SIZE || metaLength <= 0 || metaLength > (64 << 20) || memoryOffset != align(metaOffset + metaLength)
                    || memorySize <= 0 || memorySize % PAGE != 0) {
                throw new ContextFormatException(file + " is corrupted: its header describes an impossible layout");
            }
            if (fileSize < memoryOffset + memorySize) {
                throw new ContextFormatException(String.format("%s is truncated: %d of %d bytes", file, fileSize, memoryOffset + memorySize));
            }
            ByteBuffer meta = ByteBuffer.allocate((int) metaLength);
            ch.read(meta, metaOffset);
            if (header.getInt(48) != crc(meta.array(), meta.capacity())) {
                throw new ContextFormatException(file + " is corrupted: its metadata checksum does not match");
            }
            if (header.getInt(52) != memoryCrc(ch, memoryOffset, memorySize)) {
                throw new ContextFormatException(file + " is corrupted: its memory checksum does not match");
            }
            Sections s = Sections.decode(meta.array());
            byte[] config = s.get(Sections.MACHINE_CONFIG);
            Sections hv = Sections.decode(s.get(Sections.HYPERVISOR_CONTEXT));
            Sections vcpu = Sections.decode(s.get(Sections.VCPU_CONTEXT));
            GuestConfig c = decodeConfig(config, null);
            if (c.memorySize() != memorySize) {
                throw new ContextFormatException(file + " is corrupted: its configuration and its memory image disagree on the RAM size");
            }
            Info info = new Info(file, c.name(), c.mode(), c.ring(), memorySize, c.args(), c.irqchip(), memoryOffset, Files.size(file));
            return new Opened(info, config, hv, vcpu);
        } catch (IOException e) {
            throw new UncheckedIOException("could not read snapshot " + file + ": " + e.getMessage(), e);
        }
    }

    private static int memoryCrc(FileChannel ch, long offset, long size) throws IOException {
        CRC32C crc = new CRC32C();
        ByteBuffer buf = Memory.allocate(CHUNK);
        for (long at = 0; at < size; at += CHUNK) {
            int n = (int) Math.min(CHUNK, size - at);
            buf.clear().limit(n);
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + at + buf.position()) < 0) {
                    throw new ContextFormatException("snapshot memory image ends early");
                }
            }
            buf.flip();
            crc.update(buf);
        }
        return (int) crc.getValue();
    }

    private static byte[] encodeConfig(GuestConfig c) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(1);
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

    private static GuestConfig decodeConfig(byte[] bytes, dev.kvmctl.guests.devices.Console console) {
        try (DataInputStream in = new DataInputStream(new java.io.ByteArrayInputStream(bytes))) {
            if (in.readInt() != 1) {
                throw new ContextFormatException("unknown machine configuration version in snapshot");
            }
            GuestConfig.Builder b = GuestConfig.withoutImage(in.readUTF()).mode(CpuMode.valueOf(in.readUTF())).ring(in.readInt())
                    .memorySize(in.readLong());
            long[] args = new long[in.readInt()];
            for (int i = 0; i < args.length; i++) {
                args[i] = in.readLong();
            }
            b.args(args).irqchip(in.readBoolean());
            if (console != null) {
                b.console(console);
            }
            return b.build();
        } catch (IOException | IllegalArgumentException | NegativeArraySizeException e) {
            throw new ContextFormatException("the snapshot's machine configuration is unreadable: " + e.getMessage());
        }
    }

    private static long align(long value) {
        return (value + PAGE - 1) & -PAGE;
    }

    private static int crc(byte[] bytes) {
        return crc(bytes, bytes.length);
    }

    private static int crc(byte[] bytes, int length) {
        CRC32C c = new CRC32C();
        c.update(bytes, 0, length);
        return (int) c.getValue();
    }
}
