package dev.kvmctl.state;

/**
 * A segment register as KVM describes it ({@code struct kvm_segment}): the hidden part (base,
 * limit, attributes) together with the selector.
 *
 * <pre>{@code
 * SRegs s = vcpu.getSregs();
 * s.cs(Segment.code64(0x08, 0));  // a flat 64-bit ring-0 code segment
 * vcpu.setSregs(s);
 * }</pre>
 *
 * @param type the 4-bit type field (code/data, accessed, readable/writable, ...)
 * @param s 1 for code/data, 0 for a system segment
 * @param l 1 for a 64-bit code segment
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /** A flat 64-bit code segment at privilege level {@code dpl}. */
    public static Segment code64(int selector, int dpl) {
        return new Segment(0, 0xffffffff, selector, 0xb, true, dpl, false, true, true, true, false, false);
    }

    /** A flat 32/64-bit read-write data segment at privilege level {@code dpl}. */
    public static Segment data(int selector, int dpl) {
        return new Segment(0, 0xffffffff, selector, 0x3, true, dpl, true, true, false, true, false, false);
    }

    /** A real-mode segment with selector {@code selector} (base = selector * 16, 64 KiB limit). */
    public static Segment real(int selector, boolean code) {
        return new Segment((long) selector << 4, 0xffff, selector, code ? 0xb : 0x3, true, 0,
                false, true, false, false, false, false);
    }

    /** A 64-bit available TSS at {@code base}. */
    public static Segment tss64(int selector, long base, int limit) {
        return new Segment(base, limit, selector, 0xb, true, 0, false, false, false, false, false, false);
    }

    @Override
    public String toString() {
        return String.format("sel=%04x base=%016x limit=%08x type=%x dpl=%d%s%s%s%s%s",
                selector, base, limit, type, dpl, present ? " P" : "", db ? " DB" : "",
                s ? " S" : "", l ? " L" : "", g ? " G" : "") + (unusable ? " unusable" : "");
    }
}
