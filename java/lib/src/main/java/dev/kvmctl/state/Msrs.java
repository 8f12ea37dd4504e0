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

    /**
     * A zeroed list with room for {@code capacity} entries, with the count set to {@code capacity}.
     *
     * @param capacity the most entries it holds; KVM takes at most 255 in one call
     */
    public Msrs(int capacity) {
        super(LIST.bytes(capacity));
        this.capacity = capacity;
        count(capacity);
    }

    /**
     * {@return how many entries a {@code struct kvm_msrs} of {@code bytes} bytes holds}
     *
     * @param bytes the size of a struct, header included, such as {@link #size()} gives
     * @throws IllegalArgumentException if no struct has that size
     */
    public static int entriesIn(int bytes) {
        return LIST.entriesIn(bytes);
    }

    /**
     * {@return a new list of the given MSRs, their values zero, its count their number}
     *
     * @param indices the MSR numbers, e.g. {@code 0xc0000080} for EFER
     */
    public static Msrs of(int... indices) {
        Msrs m = new Msrs(indices.length);
        for (int i = 0; i < indices.length; i++) {
            m.index(i, indices[i]);
        }
        return m;
    }

    /** {@return the most entries this list holds} */
    public int capacity() { return capacity; }
    /** {@return how many entries the next ioctl uses ({@code nmsrs}): the first ones} */
    public int count() { return LIST.count(buffer); }
    /**
     * {@return the MSR number of entry {@code i}}
     *
     * @param i the entry, 0 to {@code capacity() - 1}
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public int index(int i) { return buffer.getInt(entry(i) + INDEX); }
    /**
     * {@return the value of entry {@code i}, as KVM_GET_MSRS read it or the caller set it}
     *
     * @param i the entry, 0 to {@code capacity() - 1}
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public long value(int i) { return buffer.getLong(entry(i) + DATA); }

    /**
     * Sets how many entries the next ioctl uses: the first {@code n}.
     *
     * @param n 0 to {@link #capacity()}
     * @return this list
     * @throws IllegalArgumentException for any other {@code n}
     */
    public Msrs count(int n) {
        LIST.count(buffer, n, capacity);
        return this;
    }

    /**
     * Sets which MSR entry {@code i} names.
     *
     * @param i the entry, 0 to {@code capacity() - 1}
     * @param msr the MSR number
     * @return this list
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public Msrs index(int i, int msr) { buffer.putInt(entry(i) + INDEX, msr); return this; }
    /**
     * Sets the value of entry {@code i}, for KVM_SET_MSRS.
     *
     * @param i the entry, 0 to {@code capacity() - 1}
     * @param v the value
     * @return this list
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public Msrs value(int i, long v) { buffer.putLong(entry(i) + DATA, v); return this; }

    /**
     * {@return the value of MSR {@code msr} among the first {@link #count()} entries; empty if it
     * is not there}
     *
     * @param msr the MSR number
     */
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
