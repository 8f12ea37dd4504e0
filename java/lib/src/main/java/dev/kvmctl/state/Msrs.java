package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * A list of model-specific registers to read or write ({@code struct kvm_msrs} with its entries).
 * Fill in the indices, then {@code vcpu.getMsrs(msrs)} fills in the values; or fill both and
 * {@code vcpu.setMsrs(msrs)}.
 *
 * <pre>{@code
 * Msrs m = Msrs.of(0xc0000080, 0x10);  // EFER, TSC
 * vcpu.getMsrs(m);
 * long efer = m.value(0);
 * }</pre>
 */
public final class Msrs extends KvmStruct {
    private static final EntryArray LIST = new EntryArray("kvm_msrs", "nmsrs", "entries", "kvm_msr_entry",
            "MSR entry", "an MSR list");
    private static final int INDEX = Layout.offsetOf("kvm_msr_entry", "index");
    private static final int DATA = Layout.offsetOf("kvm_msr_entry", "data");

    private final int capacity;

    /** Room for {@code capacity} entries, with the count set to {@code capacity}. */
    public Msrs(int capacity) {
        super(LIST.bytes(capacity));
        this.capacity = capacity;
        count(capacity);
    }

    /** How many entries a {@code struct kvm_msrs} of {@code bytes} bytes holds. */
    public static int entriesIn(int bytes) {
        return LIST.entriesIn(bytes);
    }

    /** A list of the given MSR indices, values zero. */
    public static Msrs of(int... indices) {
        Msrs m = new Msrs(indices.length);
        for (int i = 0; i < indices.length; i++) {
            m.index(i, indices[i]);
        }
        return m;
    }

    public int capacity() { return capacity; }
    public int count() { return LIST.count(buffer); }
    public int index(int i) { return buffer.getInt(entry(i) + INDEX); }
    public long value(int i) { return buffer.getLong(entry(i) + DATA); }

    /** The entries the next ioctl uses: 0 to {@link #capacity()}. */
    public Msrs count(int n) {
        LIST.count(buffer, n, capacity);
        return this;
    }

    public Msrs index(int i, int msr) { buffer.putInt(entry(i) + INDEX, msr); return this; }
    public Msrs value(int i, long v) { buffer.putLong(entry(i) + DATA, v); return this; }

    /** The value of MSR {@code msr} if it is in the list. */
    public java.util.OptionalLong find(int msr) {
        int i = LIST.indexWhere(buffer, j -> index(j) == msr);
        return i < 0 ? java.util.OptionalLong.empty() : java.util.OptionalLong.of(value(i));
    }

    @Override
    protected void validate(java.nio.ByteBuffer candidate) {
        LIST.validate(candidate, capacity);
    }

    private int entry(int i) {
        return LIST.entry(i, capacity);
    }
}
