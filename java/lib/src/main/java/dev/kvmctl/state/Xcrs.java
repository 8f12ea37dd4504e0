package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * Extended control registers ({@code struct kvm_xcrs}); XCR0 selects the XSAVE features enabled.
 *
 * <pre>{@code
 * Xcrs x = vcpu.getXcrs(new Xcrs());
 * for (int i = 0; i < x.count(); i++) System.out.printf("XCR%d = %x%n", x.xcr(i), x.value(i));
 * }</pre>
 */
public final class Xcrs extends KvmStruct {
    private static final int NR = Layout.offsetOf("kvm_xcrs", "nr_xcrs");
    private static final int ENTRIES = Layout.offsetOf("kvm_xcrs", "xcrs");
    private static final int ENTRY_SIZE = Layout.sizeOf("kvm_xcr");
    private static final int XCR = Layout.offsetOf("kvm_xcr", "xcr");
    private static final int VALUE = Layout.offsetOf("kvm_xcr", "value");

    public Xcrs() {
        super(Layout.sizeOf("kvm_xcrs"));
    }

    public int count() { return buffer.getInt(NR); }
    public int xcr(int i) { return buffer.getInt(ENTRIES + i * ENTRY_SIZE + XCR); }
    public long value(int i) { return buffer.getLong(ENTRIES + i * ENTRY_SIZE + VALUE); }

    /** Sets the register list to one entry: XCR0 = {@code value}. */
    public Xcrs xcr0(long value) {
        clear();
        buffer.putInt(NR, 1);
        buffer.putInt(ENTRIES + XCR, 0);
        buffer.putLong(ENTRIES + VALUE, value);
        return this;
    }
}
