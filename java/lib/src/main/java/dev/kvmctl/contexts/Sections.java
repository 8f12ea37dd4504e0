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
 * s.put(Sections.REGS, regs);
 * byte[] bytes = s.encode();
 * Regs back = new Regs();
 * Sections.decode(bytes).get(Sections.REGS, back);
 * }</pre>
 */
public final class Sections {
    /** "KVMCTX" followed by two format bytes. */
    public static final long MAGIC = 0x3130585443_4d564bL; // "KVMCTX01" little-endian
    /** The format version this kvmctl writes and reads. */
    public static final int VERSION = 1;

    // vCPU state
    public static final int MP_STATE = 1, REGS = 2, SREGS = 3, XSAVE = 4, XCRS = 5, DEBUG_REGS = 6, LAPIC = 7,
            MSRS = 8, VCPU_EVENTS = 9, CPUID = 10, TSC_KHZ = 11, FPU = 12;
    // VM and VMM state
    public static final int PIC_MASTER = 20, PIC_SLAVE = 21, IOAPIC = 22, PIT = 23, CLOCK = 24, DEVICES = 25;
    // whole machines and snapshots
    public static final int MACHINE_CONFIG = 30, VCPU_CONTEXT = 31, HYPERVISOR_CONTEXT = 32;

    private static final int HEADER = 8 + 4 + 4 + 4;

    private final Map<Integer, byte[]> sections = new LinkedHashMap<>();

    public Sections put(int tag, byte[] bytes) {
        sections.put(tag, bytes.clone());
        return this;
    }

    public Sections put(int tag, KvmStruct struct) {
        return put(tag, struct.toByteArray());
    }

    public Sections putInt(int tag, int value) {
        return put(tag, ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(value).array());
    }

    public boolean has(int tag) {
        return sections.containsKey(tag);
    }

    /** The section's bytes; {@link ContextFormatException} if it is missing. */
    public byte[] get(int tag) {
        byte[] b = sections.get(tag);
        if (b == null) {
            throw new ContextFormatException("the context has no section " + tag);
        }
        return b.clone();
    }

    /** Loads section {@code tag} into {@code into}, checking that the sizes agree. */
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

    public int getInt(int tag) {
        byte[] b = get(tag);
        if (b.length != 4) {
            throw new ContextFormatException("section " + tag + " should hold 4 bytes, holds " + b.length);
        }
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getInt();
    }

    /** The encoded container. */
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

    /** Decodes and validates a container; nothing is returned unless all of it is intact. */
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
