package dev.kvmctl.contexts;

import dev.kvmctl.state.KvmStruct;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * kvmctl's versioned, checksummed container for contexts: a magic, a format version, tagged
 * sections, and a CRC32C over all of it. Readers refuse a wrong magic, another version, a
 * truncated buffer or a bad checksum before they hand out any section.
 *
 * <pre>{@code
 * Sections s = new Sections();
 * s.put(Sections.REGS, vcpu.getRegs());
 * byte[] bytes = s.encode();
 * Regs back = new Regs();
 * Sections.decode(bytes).get(Sections.REGS, back);   // ContextFormatException if damaged
 * }</pre>
 *
 * <p>Each tag below names what kvmctl stores under it; a container may hold any tags, each at
 * most once. Not thread-safe.
 */
public final class Sections {
    /** "KVMCTX" followed by two format bytes. */
    public static final long MAGIC = 0x3130585443_4d564bL; // "KVMCTX01" little-endian
    /** The format version this kvmctl writes and reads. */
    public static final int VERSION = 1;

    // vCPU state
    /** Tag of a vCPU's {@link dev.kvmctl.state.MpState}. */
    public static final int MP_STATE = 1;
    /** Tag of a vCPU's {@link dev.kvmctl.state.Regs}. */
    public static final int REGS = 2;
    /** Tag of a vCPU's {@link dev.kvmctl.state.SRegs}. */
    public static final int SREGS = 3;
    /** Tag of a vCPU's {@link dev.kvmctl.state.Xsave} area. */
    public static final int XSAVE = 4;
    /** Tag of a vCPU's {@link dev.kvmctl.state.Xcrs}. */
    public static final int XCRS = 5;
    /** Tag of a vCPU's {@link dev.kvmctl.state.DebugRegs}. */
    public static final int DEBUG_REGS = 6;
    /** Tag of a vCPU's {@link dev.kvmctl.state.Lapic} (with an in-kernel irqchip only). */
    public static final int LAPIC = 7;
    /** Tag of a vCPU's {@link dev.kvmctl.state.Msrs}, indices and values. */
    public static final int MSRS = 8;
    /** Tag of a vCPU's {@link dev.kvmctl.state.VcpuEvents}. */
    public static final int VCPU_EVENTS = 9;
    /** Tag of a vCPU's {@link dev.kvmctl.state.Cpuid} table. */
    public static final int CPUID = 10;
    /** Tag of a vCPU's TSC frequency in kHz, an int. */
    public static final int TSC_KHZ = 11;
    /** Tag of a vCPU's legacy {@link dev.kvmctl.state.Fpu} state (kvmctl writes {@link #XSAVE} instead). */
    public static final int FPU = 12;
    // VM and VMM state
    /** Tag of the master PIC's {@link dev.kvmctl.state.Irqchip} state. */
    public static final int PIC_MASTER = 20;
    /** Tag of the slave PIC's {@link dev.kvmctl.state.Irqchip} state. */
    public static final int PIC_SLAVE = 21;
    /** Tag of the IOAPIC's {@link dev.kvmctl.state.Irqchip} state. */
    public static final int IOAPIC = 22;
    /** Tag of the in-kernel PIT's {@link dev.kvmctl.state.PitState}. */
    public static final int PIT = 23;
    /** Tag of the VM's kvmclock, {@link dev.kvmctl.state.ClockData}. */
    public static final int CLOCK = 24;
    /** Tag of the state of kvmctl's device models (a machine's {@code MachineCounters}), as {@code DeviceStateCodec} encodes it. */
    public static final int DEVICES = 25;
    /** Tag of the saved {@link dev.kvmctl.guests.devices.DeviceState}s of a VMM's device models, by name and version. */
    public static final int DEVICE_STATES = 26;
    // whole machines and snapshots
    /** Tag of a snapshot's machine configuration (name, mode, ring, RAM size, arguments, irqchip). */
    public static final int MACHINE_CONFIG = 30;
    /** Tag of an encoded {@link VcpuContext}, itself a container. */
    public static final int VCPU_CONTEXT = 31;
    /** Tag of an encoded {@link HypervisorContext}, itself a container. */
    public static final int HYPERVISOR_CONTEXT = 32;
    /**
     * Tag of the encoded {@link VcpuContext}s of vCPUs 1 and up of a {@link VmContext}: a
     * container whose tag {@code i} holds vCPU {@code i}'s (vCPU 0's is under {@link #VCPU_CONTEXT}).
     */
    public static final int VCPU_CONTEXTS = 33;

    private static final int HEADER = 8 + 4 + 4 + 4;

    private final Map<Integer, byte[]> sections = new LinkedHashMap<>();

    /**
     * Stores a copy of {@code bytes} under {@code tag}, replacing what the tag held.
     *
     * @param tag the section's tag, one of the constants above or any other int
     * @param bytes the section's contents
     * @return this container
     */
    public Sections put(int tag, byte[] bytes) {
        sections.put(tag, bytes.clone());
        return this;
    }

    /**
     * Stores a copy of a struct's bytes under {@code tag}, replacing what the tag held.
     *
     * @param tag the section's tag
     * @param struct the struct, in the kernel's layout
     * @return this container
     */
    public Sections put(int tag, KvmStruct struct) {
        return put(tag, struct.toByteArray());
    }

    /**
     * Stores an int, 4 bytes little-endian, under {@code tag}, replacing what the tag held.
     *
     * @param tag the section's tag
     * @param value the value
     * @return this container
     */
    public Sections putInt(int tag, int value) {
        return put(tag, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
    }

    /**
     * {@return whether the container holds a section {@code tag}}
     *
     * @param tag the section's tag
     */
    public boolean has(int tag) {
        return sections.containsKey(tag);
    }

    /**
     * {@return a copy of the section's bytes}
     *
     * @param tag the section's tag
     * @throws ContextFormatException if the container has no such section
     */
    public byte[] get(int tag) {
        byte[] b = sections.get(tag);
        if (b == null) {
            throw new ContextFormatException("the context has no section " + tag);
        }
        return b.clone();
    }

    /**
     * Loads section {@code tag} into {@code into}, checking that the sizes agree and that the
     * bytes are a valid struct; {@code into} is unchanged if they are not.
     *
     * @param tag the section's tag
     * @param into the struct to load
     * @throws ContextFormatException if the section is missing, has another size than
     *     {@code into} (a context from another kernel or CPU), or is not a valid struct
     */
    public void get(int tag, KvmStruct into) {
        byte[] b = get(tag);
        if (b.length != into.size()) {
            throw new ContextFormatException(String.format(
                    "section %d holds %d bytes but this host's %s has %d: the context comes from a different kernel or CPU",
                    tag, b.length, into.getClass().getSimpleName(), into.size()));
        }
        try {
            into.load(b);
        } catch (IllegalArgumentException e) {
            throw new ContextFormatException("section " + tag + " is not a valid " + into.getClass().getSimpleName()
                    + ": " + e.getMessage());
        }
    }

    /**
     * {@return the int stored under {@code tag} by {@link #putInt}}
     *
     * @param tag the section's tag
     * @throws ContextFormatException if the section is missing or is not 4 bytes long
     */
    public int getInt(int tag) {
        byte[] b = get(tag);
        if (b.length != 4) {
            throw new ContextFormatException("section " + tag + " should hold 4 bytes, holds " + b.length);
        }
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    /** {@return a new array holding the encoded container: header, sections in insertion order, CRC32C} */
    public byte[] encode() {
        int size = HEADER + 4;
        for (byte[] b : sections.values()) {
            size += 8 + b.length;
        }
        ByteBuffer out = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        out.putLong(MAGIC).putInt(VERSION).putInt(size).putInt(sections.size());
        for (Map.Entry<Integer, byte[]> e : sections.entrySet()) {
            out.putInt(e.getKey()).putInt(e.getValue().length).put(e.getValue());
        }
        CRC32C crc = new CRC32C();
        crc.update(out.array(), 0, out.position());
        out.putInt((int) crc.getValue());
        return out.array();
    }

    /**
     * Decodes and validates a container; nothing is returned unless all of it is intact.
     *
     * @param bytes an encoded container, as {@link #encode()} wrote it
     * @return the sections, copied out of {@code bytes}
     * @throws ContextFormatException for a wrong magic or version, a truncated or oversized
     *     buffer, a checksum mismatch, or sections that overrun it or repeat a tag
     */
    public static Sections decode(byte[] bytes) {
        ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (bytes.length < HEADER + 4) {
            throw new ContextFormatException("truncated context: " + bytes.length + " bytes is shorter than its header");
        }
        if (in.getLong() != MAGIC) {
            throw new ContextFormatException("not a kvmctl context (wrong magic number)");
        }
        int version = in.getInt();
        if (version != VERSION) {
            throw new ContextFormatException("context format version " + version + "; this kvmctl reads version " + VERSION);
        }
        int total = in.getInt();
        if (bytes.length < total) {
            throw new ContextFormatException("truncated context: " + bytes.length + " of " + total + " bytes");
        }
        if (bytes.length > total) {
            throw new ContextFormatException("corrupted context: " + (bytes.length - total) + " bytes after its end");
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, bytes.length - 4);
        int stored = ByteBuffer.wrap(bytes, bytes.length - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        if (stored != (int) crc.getValue()) {
            throw new ContextFormatException("corrupted context: checksum mismatch");
        }
        int count = in.getInt();
        int room = (bytes.length - HEADER - 4) / 8; // every section takes at least its tag and length
        if (count < 0 || count > room) {
            throw new ContextFormatException("corrupted context: it claims " + count + " sections, its "
                    + bytes.length + " bytes hold at most " + room);
        }
        Sections s = new Sections();
        for (int i = 0; i < count; i++) {
            if (in.remaining() < 8 + 4) {
                throw new ContextFormatException("truncated context: section " + i + " of " + count + " is cut off");
            }
            int tag = in.getInt();
            int length = in.getInt();
            if (length < 0 || length > in.remaining() - 4) {
                throw new ContextFormatException("truncated context: section " + tag + " claims " + length + " bytes, "
                        + Math.max(0, in.remaining() - 4) + " remain");
            }
            if (s.sections.containsKey(tag)) {
                throw new ContextFormatException("corrupted context: section " + tag + " appears twice");
            }
            byte[] b = new byte[length];
            in.get(b);
            s.sections.put(tag, b);
        }
        if (in.remaining() != 4) {
            throw new ContextFormatException("corrupted context: " + (in.remaining() - 4) + " stray bytes after the sections");
        }
        return s;
    }
}
