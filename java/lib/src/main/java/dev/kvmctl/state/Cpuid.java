package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * A CPUID table ({@code struct kvm_cpuid2} with its entries): what KVM supports, or what a vCPU
 * is told.
 *
 * <pre>{@code
 * Cpuid cpuid = kvm.supportedCpuid();
 * vcpu.setCpuid(cpuid);
 * int leaf1Ecx = cpuid.find(1, 0).orElseThrow().ecx();
 * }</pre>
 */
public final class Cpuid extends KvmStruct {
    /** The most entries kvmctl asks KVM for; KVM itself allows up to 256. */
    public static final int MAX_ENTRIES = 256;

    private static final EntryArray LIST = new EntryArray("kvm_cpuid2", "nent", "entries", "kvm_cpuid_entry2",
            "CPUID entry", "a CPUID table");
    private static final int FUNCTION = Layout.offsetOf("kvm_cpuid_entry2", "function");
    private static final int INDEX = Layout.offsetOf("kvm_cpuid_entry2", "index");
    private static final int FLAGS = Layout.offsetOf("kvm_cpuid_entry2", "flags");
    private static final int EAX = Layout.offsetOf("kvm_cpuid_entry2", "eax");
    private static final int EBX = Layout.offsetOf("kvm_cpuid_entry2", "ebx");
    private static final int ECX = Layout.offsetOf("kvm_cpuid_entry2", "ecx");
    private static final int EDX = Layout.offsetOf("kvm_cpuid_entry2", "edx");

    /**
     * One CPUID leaf/subleaf and its four registers ({@code struct kvm_cpuid_entry2}).
     *
     * @param function the leaf: the EAX value the guest's {@code cpuid} asks with
     * @param index the subleaf: the ECX value, for leaves that have subleaves
     * @param flags {@code KVM_CPUID_FLAG_*}: whether the index matters
     *     ({@code KVM_CPUID_FLAG_SIGNIFCANT_INDEX}, 1)
     * @param eax what {@code cpuid} returns in EAX
     * @param ebx what {@code cpuid} returns in EBX
     * @param ecx what {@code cpuid} returns in ECX
     * @param edx what {@code cpuid} returns in EDX
     */
    public record Entry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {}

    private final int capacity;

    /**
     * A zeroed table with room for {@code capacity} entries, with the count set to {@code capacity}.
     *
     * @param capacity the most entries it holds; {@link #MAX_ENTRIES} holds any table KVM gives
     */
    public Cpuid(int capacity) {
        super(LIST.bytes(capacity));
        this.capacity = capacity;
        count(capacity);
    }

    /** {@return the most entries this table holds} */
    public int capacity() { return capacity; }
    /** {@return how many entries are in use ({@code nent}): the first ones, 0 to {@link #capacity()}} */
    public int count() { return LIST.count(buffer); }

    /**
     * Sets how many entries are in use: the ioctls read or fill the first {@code n}.
     *
     * @param n 0 to {@link #capacity()}
     * @return this table
     * @throws IllegalArgumentException for any other {@code n}
     */
    public Cpuid count(int n) {
        LIST.count(buffer, n, capacity);
        return this;
    }

    /**
     * {@return a new record of entry {@code i}}
     *
     * @param i the entry, 0 to {@code capacity() - 1}
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public Entry entry(int i) {
        int at = at(i);
        return new Entry(buffer.getInt(at + FUNCTION), buffer.getInt(at + INDEX), buffer.getInt(at + FLAGS),
                buffer.getInt(at + EAX), buffer.getInt(at + EBX), buffer.getInt(at + ECX), buffer.getInt(at + EDX));
    }

    /**
     * Replaces entry {@code i}; the count is unchanged.
     *
     * @param i the entry, 0 to {@code capacity() - 1}
     * @param e the new leaf and registers
     * @return this table
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public Cpuid entry(int i, Entry e) {
        int at = at(i);
        buffer.putInt(at + FUNCTION, e.function()).putInt(at + INDEX, e.index()).putInt(at + FLAGS, e.flags())
                .putInt(at + EAX, e.eax()).putInt(at + EBX, e.ebx()).putInt(at + ECX, e.ecx()).putInt(at + EDX, e.edx());
        return this;
    }

    /**
     * {@return the entry for leaf {@code function}, subleaf {@code index}, among the first
     * {@link #count()}; empty if there is none}
     *
     * @param function the leaf
     * @param index the subleaf; 0 for leaves without subleaves
     */
    public java.util.Optional<Entry> find(int function, int index) {
        int i = LIST.indexWhere(buffer,
                j -> buffer.getInt(at(j) + FUNCTION) == function && buffer.getInt(at(j) + INDEX) == index);
        return i < 0 ? java.util.Optional.empty() : java.util.Optional.of(entry(i));
    }

    @Override
    protected void validate(java.nio.ByteBuffer candidate) {
        LIST.validate(candidate, capacity);
    }

    private int at(int i) {
        return LIST.entry(i, capacity);
    }
}
