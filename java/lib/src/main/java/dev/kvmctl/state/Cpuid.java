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

    /** One CPUID leaf/subleaf and its four registers. */
    public record Entry(int function, int index, int flags, int eax, int ebx, int ecx, int edx) {}

    private final int capacity;

    /** Room for {@code capacity} entries, with the count set to {@code capacity}. */
    public Cpuid(int capacity) {
        super(LIST.bytes(capacity));
        this.capacity = capacity;
        count(capacity);
    }

    public int capacity() { return capacity; }
    public int count() { return LIST.count(buffer); }

    public Cpuid count(int n) {
        LIST.count(buffer, n, capacity);
        return this;
    }

    public Entry entry(int i) {
        int at = at(i);
        return new Entry(buffer.getInt(at + FUNCTION), buffer.getInt(at + INDEX), buffer.getInt(at + FLAGS),
                buffer.getInt(at + EAX), buffer.getInt(at + EBX), buffer.getInt(at + ECX), buffer.getInt(at + EDX));
    }

    public Cpuid entry(int i, Entry e) {
        int at = at(i);
        buffer.putInt(at + FUNCTION, e.function()).putInt(at + INDEX, e.index()).putInt(at + FLAGS, e.flags())
                .putInt(at + EAX, e.eax()).putInt(at + EBX, e.ebx()).putInt(at + ECX, e.ecx()).putInt(at + EDX, e.edx());
        return this;
    }

    /** The entry for leaf {@code function}, subleaf {@code index}, among the first {@link #count()}. */
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
