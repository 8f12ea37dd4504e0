package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.util.Objects;

/**
 * Extended control registers ({@code struct kvm_xcrs}); XCR0 selects the XSAVE features enabled.
 * Every entry up to {@link #CAPACITY} is readable and settable.
 *
 * <pre>{@code
 * Xcrs x = vcpu.getXcrs(new Xcrs());
 * for (int i = 0; i < x.count(); i++) System.out.printf("XCR%d = %x%n", x.xcr(i), x.value(i));
 * }</pre>
 */
public final class Xcrs extends KvmStruct {
    private static final int NR = Layout.offsetOf("kvm_xcrs", "nr_xcrs");
    private static final int FLAGS = Layout.offsetOf("kvm_xcrs", "flags");
    private static final int ENTRIES = Layout.offsetOf("kvm_xcrs", "xcrs");
    private static final int ENTRY_SIZE = Layout.sizeOf("kvm_xcr");
    /** Entries {@code struct kvm_xcrs} has room for (KVM_MAX_XCRS, 16). */
    public static final int CAPACITY = (Layout.sizeOf("kvm_xcrs") - ENTRIES) / ENTRY_SIZE;
    private static final int XCR = Layout.offsetOf("kvm_xcr", "xcr");
    private static final int VALUE = Layout.offsetOf("kvm_xcr", "value");

    /** An empty list, to fill with {@link dev.kvmctl.Vcpu#getXcrs(Xcrs)} or {@link #xcr0(long)}. */
    public Xcrs() {
        super(Layout.sizeOf("kvm_xcrs"));
    }

    /** {@return how many registers the list holds ({@code nr_xcrs}); KVM reports 1, XCR0} */
    public int count() { return buffer.getInt(NR); }
    /**
     * Sets how many entries the list holds; KVM_SET_XCRS reads that many.
     *
     * @param n 0 to {@link #CAPACITY}
     * @return this struct
     * @throws IllegalArgumentException for a count outside 0 to {@link #CAPACITY}
     */
    public Xcrs count(int n) {
        if (n < 0 || n > CAPACITY) {
            throw new IllegalArgumentException("an Xcrs holds 0 to " + CAPACITY + " entries, not " + n);
        }
        buffer.putInt(NR, n);
        return this;
    }

    /** {@return the {@code flags} field (no flag is defined; KVM leaves it 0)} */
    public int flags() { return buffer.getInt(FLAGS); }

    /**
     * Sets the {@code flags} field.
     *
     * @param v the flags; 0, as no flag is defined
     * @return this struct
     */
    public Xcrs flags(int v) { buffer.putInt(FLAGS, v); return this; }

    /**
     * {@return the number of the register in entry {@code i} (0 for XCR0)}
     *
     * @param i the entry, from 0 to {@link #CAPACITY} - 1
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public int xcr(int i) { return buffer.getInt(ENTRIES + Objects.checkIndex(i, CAPACITY) * ENTRY_SIZE + XCR); }
    /**
     * {@return the value of the register in entry {@code i}}
     *
     * @param i the entry, from 0 to {@link #CAPACITY} - 1
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public long value(int i) { return buffer.getLong(ENTRIES + Objects.checkIndex(i, CAPACITY) * ENTRY_SIZE + VALUE); }

    /**
     * Sets entry {@code i}: register {@code xcr} = {@code value}. The count is not changed (see
     * {@link #count(int)}).
     *
     * @param i the entry, from 0 to {@link #CAPACITY} - 1
     * @param xcr the register's number (0 for XCR0)
     * @param value its value
     * @return this struct
     * @throws IndexOutOfBoundsException for any other {@code i}
     */
    public Xcrs entry(int i, int xcr, long value) {
        int at = ENTRIES + Objects.checkIndex(i, CAPACITY) * ENTRY_SIZE;
        buffer.putInt(at + XCR, xcr);
        buffer.putLong(at + VALUE, value);
        return this;
    }

    /**
     * Sets the register list to one entry: XCR0 = {@code value}.
     *
     * @param value the XSAVE features enabled (bit 0 x87, always set; bit 1 SSE; bit 2 AVX; ...)
     * @return this struct
     */
    public Xcrs xcr0(long value) {
        clear();
        buffer.putInt(NR, 1);
        buffer.putInt(ENTRIES + XCR, 0);
        buffer.putLong(ENTRIES + VALUE, value);
        return this;
    }
}
