package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.LibC;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A VM's or vCPU's binary statistics ({@code KVM_GET_STATS_FD}, {@link Vm#stats()},
 * {@link Vcpu#stats()}): the header and descriptors are read once when it is opened, the values on
 * each {@link #value(String)} with one {@code pread} at the offset the descriptor gives.
 *
 * <pre>{@code
 * try (Stats stats = vcpu.stats()) {
 *     long exits = stats.value("exits");
 * }
 * }</pre>
 *
 * <p>A closed one refuses every call with {@link IllegalStateException} except {@link #close()}
 * (idempotent), {@link #isClosed()} and {@code toString()}.
 */
public final class Stats implements AutoCloseable {
    private static final int TYPE_MASK = Layout.intValue("KVM_STATS_TYPE_MASK");
    private static final int UNIT_MASK = Layout.intValue("KVM_STATS_UNIT_MASK");
    private static final int BASE_MASK = Layout.intValue("KVM_STATS_BASE_MASK");
    private static final int TYPE_SHIFT = Layout.intValue("KVM_STATS_TYPE_SHIFT");
    private static final int UNIT_SHIFT = Layout.intValue("KVM_STATS_UNIT_SHIFT");
    private static final int BASE_SHIFT = Layout.intValue("KVM_STATS_BASE_SHIFT");

    /**
     * One statistic, as its descriptor states it.
     *
     * @param name its name, e.g. {@code exits} or {@code remote_tlb_flush}
     * @param type {@code KVM_STATS_TYPE_*}: cumulative, instant, peak, linear or log histogram
     *     (already shifted down to 0, 1, 2, ...)
     * @param unit {@code KVM_STATS_UNIT_*}, shifted down: none, bytes, seconds, cycles, boolean
     * @param base {@code KVM_STATS_BASE_*}, shifted down: 0 for powers of 10, 1 for powers of 2
     * @param exponent the power of {@code base} the values are in (-9 for nanoseconds)
     * @param size how many 64-bit values it has (1 for a counter, more for a histogram)
     * @param offset where its values start, from the start of the data block
     * @param bucketSize the width of a linear histogram's buckets (0 otherwise)
     */
    public record Descriptor(String name, int type, int unit, int base, int exponent, int size, int offset, int bucketSize) {}

    private final OwnedFd fd;
    private final String id;
    private final long dataOffset;
    private final Map<String, Descriptor> descriptors;

    /** Takes over a stats descriptor and reads its header and descriptors. */
    Stats(OwnedFd fd) {
        this.fd = fd;
        try {
            ByteBuffer header = read(0, Layout.sizeOf("kvm_stats_header"));
            int nameSize = header.getInt(Layout.offsetOf("kvm_stats_header", "name_size"));
            int count = header.getInt(Layout.offsetOf("kvm_stats_header", "num_desc"));
            long idOffset = Integer.toUnsignedLong(header.getInt(Layout.offsetOf("kvm_stats_header", "id_offset")));
            long descOffset = Integer.toUnsignedLong(header.getInt(Layout.offsetOf("kvm_stats_header", "desc_offset")));
            this.dataOffset = Integer.toUnsignedLong(header.getInt(Layout.offsetOf("kvm_stats_header", "data_offset")));
            this.id = string(read(idOffset, nameSize), 0, nameSize);
            int stride = Layout.sizeOf("kvm_stats_desc") + nameSize;
            ByteBuffer all = read(descOffset, Math.multiplyExact(stride, count));
            Map<String, Descriptor> map = new LinkedHashMap<>();
            for (int i = 0; i < count; i++) {
                int at = i * stride;
                int flags = all.getInt(at + Layout.offsetOf("kvm_stats_desc", "flags"));
                Descriptor d = new Descriptor(
                        string(all, at + Layout.offsetOf("kvm_stats_desc", "name"), nameSize),
                        (flags & TYPE_MASK) >>> TYPE_SHIFT, (flags & UNIT_MASK) >>> UNIT_SHIFT,
                        (flags & BASE_MASK) >>> BASE_SHIFT,
                        all.getShort(at + Layout.offsetOf("kvm_stats_desc", "exponent")),
                        Short.toUnsignedInt(all.getShort(at + Layout.offsetOf("kvm_stats_desc", "size"))),
                        all.getInt(at + Layout.offsetOf("kvm_stats_desc", "offset")),
                        all.getInt(at + Layout.offsetOf("kvm_stats_desc", "bucket_size")));
                map.put(d.name(), d);
            }
            this.descriptors = Collections.unmodifiableMap(map);
        } catch (RuntimeException e) {
            fd.close();
            throw e;
        }
    }

    private ByteBuffer read(long offset, int length) {
        byte[] bytes = new byte[length];
        int done = 0;
        int f = fd.acquire();
        try {
            while (done < length) {
                byte[] chunk = done == 0 ? bytes : new byte[length - done];
                long n = LibC.INSTANCE.pread(f, chunk, length - done, offset + done);
                if (n < 0) {
                    throw new KvmException("pread(KVM stats fd)", LibC.errno());
                }
                if (n == 0) {
                    throw new KvmException("pread(KVM stats fd)", KvmException.NO_ERRNO,
                            "the statistics ended at byte " + (offset + done) + ", before the header said");
                }
                if (chunk != bytes) {
                    System.arraycopy(chunk, 0, bytes, done, (int) n);
                }
                done += (int) n;
            }
        } finally {
            fd.release();
        }
        return ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static String string(ByteBuffer b, int at, int max) {
        int end = at;
        while (end < at + max && b.get(end) != 0) {
            end++;
        }
        return new String(b.array(), at, end - at, StandardCharsets.US_ASCII);
    }

    /**
     * {@return the id the kernel gives these statistics, e.g. {@code kvm-1234} or
     * {@code kvm-1234/vcpu-0}}
     *
     * @throws IllegalStateException if this is closed
     */
    public String id() {
        fd.get();
        return id;
    }

    /**
     * {@return every statistic's descriptor, in the kernel's order}
     *
     * @throws IllegalStateException if this is closed
     */
    public List<Descriptor> descriptors() {
        fd.get();
        return List.copyOf(descriptors.values());
    }

    /**
     * {@return the descriptor of the statistic called {@code name}}
     *
     * @param name the statistic's name
     * @throws IllegalArgumentException if there is none of that name (the message lists a few)
     * @throws IllegalStateException if this is closed
     */
    public Descriptor descriptor(String name) {
        fd.get();
        Descriptor d = descriptors.get(name);
        if (d == null) {
            throw new IllegalArgumentException("no KVM statistic '" + name + "' in " + id + "; it has "
                    + descriptors.keySet().stream().limit(8).toList() + (descriptors.size() > 8 ? "..." : ""));
        }
        return d;
    }

    /**
     * Reads the first (for counters, the only) value of a statistic now.
     *
     * @param name the statistic's name
     * @return its value, in the unit and exponent its {@link Descriptor} gives
     * @throws IllegalArgumentException if there is no statistic of that name
     * @throws KvmException if the read fails
     * @throws IllegalStateException if this is closed
     */
    public long value(String name) {
        return read(dataOffset + Integer.toUnsignedLong(descriptor(name).offset()), 8).getLong(0);
    }

    /**
     * Reads every value of a statistic now (a histogram's buckets).
     *
     * @param name the statistic's name
     * @return a new array of {@link Descriptor#size()} values
     * @throws IllegalArgumentException if there is no statistic of that name
     * @throws KvmException if the read fails
     * @throws IllegalStateException if this is closed
     */
    public long[] values(String name) {
        Descriptor d = descriptor(name);
        ByteBuffer b = read(dataOffset + Integer.toUnsignedLong(d.offset()), 8 * d.size());
        long[] out = new long[d.size()];
        b.asLongBuffer().get(out);
        return out;
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /** Closes the statistics descriptor; idempotent. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Stats[" + id + ", " + descriptors.size() + " statistics, " + fd + "]";
    }
}
