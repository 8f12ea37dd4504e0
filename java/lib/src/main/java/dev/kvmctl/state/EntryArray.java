package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.nio.ByteBuffer;
import java.util.function.IntPredicate;

/**
 * The layout and the checks of a kernel struct that is a count followed by an array of entries
 * ({@code struct kvm_cpuid2}, {@code struct kvm_msrs}): the struct is allocated with room for a
 * capacity of entries, and the kernel reads or writes as many entries as the count says. So the
 * count must never exceed the capacity (the kernel would run past the buffer), and no entry index
 * may leave it; every check is here, once, with the messages its structs give.
 *
 * <pre>{@code
 * EntryArray msrs = new EntryArray("kvm_msrs", "nmsrs", "entries", "kvm_msr_entry", "MSR entry", "an MSR list");
 * int bytes = msrs.bytes(8);          // a struct kvm_msrs with room for 8 entries
 * int at = msrs.entry(7, 8);          // the byte offset of entry 7; entry 8 throws IndexOutOfBoundsException
 * }</pre>
 */
final class EntryArray {
    private final String struct;
    private final int header;
    private final int countAt;
    private final int entriesAt;
    private final int entrySize;
    private final String entryName;
    private final String listName;

    /**
     * The layout of {@code struct}, whose int field {@code countField} counts the entries of type
     * {@code entryStruct} in its array field {@code entriesField}; offsets and sizes come from the
     * native layout table. {@code entryName} ("MSR entry") and {@code listName} ("an MSR list")
     * name them in messages.
     */
    EntryArray(String struct, String countField, String entriesField, String entryStruct, String entryName, String listName) {
        this.struct = struct;
        this.header = Layout.sizeOf(struct);
        this.countAt = Layout.offsetOf(struct, countField);
        this.entriesAt = Layout.offsetOf(struct, entriesField);
        this.entrySize = Layout.sizeOf(entryStruct);
        this.entryName = entryName;
        this.listName = listName;
    }

    /** The struct's size with room for {@code capacity} entries. */
    int bytes(int capacity) {
        return header + capacity * entrySize;
    }

    /** How many entries a struct of {@code bytes} bytes holds; {@link IllegalArgumentException} if no capacity gives that size. */
    int entriesIn(int bytes) {
        if (bytes < header || (bytes - header) % entrySize != 0) {
            throw new IllegalArgumentException(bytes + " bytes is not a struct " + struct);
        }
        return (bytes - header) / entrySize;
    }

    /** The count the struct in {@code buffer} holds. */
    int count(ByteBuffer buffer) {
        return buffer.getInt(countAt);
    }

    /** Sets the count, which must lie in 0 to {@code capacity}. */
    void count(ByteBuffer buffer, int n, int capacity) {
        if (n < 0 || n > capacity) {
            throw new IllegalArgumentException("count " + n + " outside 0.." + capacity);
        }
        buffer.putInt(countAt, n);
    }

    /** The byte offset of entry {@code i}, which must lie below {@code capacity}. */
    int entry(int i, int capacity) {
        if (i < 0 || i >= capacity) {
            throw new IndexOutOfBoundsException(entryName + " " + i + " of " + capacity);
        }
        return entriesAt + i * entrySize;
    }

    /** The first entry number below the struct's count that {@code matches}, or -1: a linear search. */
    int indexWhere(ByteBuffer buffer, IntPredicate matches) {
        for (int i = 0, n = count(buffer); i < n; i++) {
            if (matches.test(i)) {
                return i;
            }
        }
        return -1;
    }

    /** Refuses bytes about to become the struct whose count exceeds {@code capacity} (see {@link KvmStruct#validate}). */
    void validate(ByteBuffer candidate, int capacity) {
        int n = candidate.getInt(countAt);
        if (n < 0 || n > capacity) {
            throw new IllegalArgumentException(listName + " of " + n + " entries does not fit in " + capacity);
        }
    }
}
