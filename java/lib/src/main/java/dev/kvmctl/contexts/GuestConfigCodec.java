package dev.kvmctl.contexts;

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

/**
 * The byte format of a machine's {@link GuestConfig} in a snapshot (its {@code MACHINE_CONFIG}
 * section), in {@link DataOutputStream}'s big-endian encoding: a version (4 bytes, 2), the name
 * and the CPU mode (modified UTF-8), the ring (4), the memory size (8), the number of guest
 * arguments (4) and each argument (8), whether the VM has an in-kernel irqchip (1), and the number
 * of vCPUs (4; version 1, which had one vCPU, ends before it). Decoding bounds the argument count
 * before it allocates and refuses stray bytes at the end.
 *
 * <pre>{@code
 * byte[] bytes = GuestConfigCodec.encode(machine.config());
 * GuestConfig config = GuestConfigCodec.decode(bytes, new Console(System.out, null));
 * }</pre>
 */
final class GuestConfigCodec {
    private static final int VERSION = 2;

    private GuestConfigCodec() {}

    /** The fields a restore needs, in the layout above; the image, console and shared regions are not saved. */
    static byte[] encode(GuestConfig c) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(VERSION);
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
            out.writeInt(c.cpus());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    /** The machine configuration; {@code console} may be null when only the fields are wanted. */
    static GuestConfig decode(byte[] bytes, Console console) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
            int version = in.readInt();
            if (version != 1 && version != VERSION) {
                throw new ContextFormatException("unknown machine configuration version " + version + " in snapshot");
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
            b.cpus(version == 1 ? 1 : in.readInt());
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
}
