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
    private static final int HEADER = Layout.sizeOf("kvm_msrs");
    private static final int NMSRS = Layout.offsetOf("kvm_msrs", "nmsrs");
    private static final int ENTRIES = Layout.offsetOf("kvm_msrs", "entries");
    private static final int ENTRY_SIZE = Layout.sizeOf("kvm_msr_entry");
    private static final int INDEX = Layout.offsetOf("kvm_msr_entry", "index");
    private static final int DATA = Layout.offsetOf("kvm_msr_entry", "data");

    private final int capacity;

    /** Room for {@code capacity} entries, with the count set to {@code capacity}. */
    public Msrs(int capacity) {
        super(HEADER + capacity * ENTRY_SIZE);
        this.capacity = capacity;
        count(capacity);
    }

    /** How many entries a {@code struct kvm_msrs} of {@code bytes} bytes holds. */
    public static int entriesIn(int bytes) {
        if (bytes < HEADER || (bytes - HEADER) % ENTRY_SIZE != 0) {
            throw new IllegalArgumentException(bytes + " bytes is not a struct kvm_msrs");
        }
        return (bytes - HEADER) / ENTRY_SIZE;
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
    public int count() { return buffer.getInt(NMSRS); }
    public int index(int i) { return buffer.getInt(entry(i) + INDEX); }
    public long value(int i) { return buffer.getLong(entry(i) + DATA); }

    /** The entries the next ioctl uses: 0 to {@link #capacity()}. */
    public Msrs count(int n) {
        if (n < 0 || n > capacity) {
            throw new IllegalArgumentException("count " + n + " outside 0.." + capacity);
        }
        buffer.putInt(NMSRS, n);
        return this;
    }

    public Msrs index(int i, int msr) { buffer.putInt(entry(i) + INDEX, msr); return this; }
    public Msrs value(int i, long v) { buffer.putLong(entry(i) + DATA, v); return this; }

    /** The value of MSR {@code msr} if it is in the list. */
    public java.util.OptionalLong find(int msr) {
        for (int i = 0; i < count(); i++) {
            if (index(i) == msr) {
                return java.util.OptionalLong.of(value(i));
            }
        }
        return java.util.OptionalLong.empty();
    }

    @Override
    protected void validate(java.nio.ByteBuffer candidate) {
        int n = candidate.getInt(NMSRS);
        if (n < 0 || n > capacity) {
            throw new IllegalArgumentException("an MSR list of " + n + " entries does not fit in " + capacity);
        }
    }

    private int entry(int i) {
        if (i < 0 || i >= capacity) {
            throw new IndexOutOfBoundsException("MSR entry " + i + " of " + capacity);
        }
        return ENTRIES + i * ENTRY_SIZE;
    }
}
