package dev.kvmctl.state;

/**
 * A segment register as KVM describes it ({@code struct kvm_segment}): the hidden part (base,
 * limit, attributes) together with the selector.
 *
 * <pre>{@code
 * SRegs s = vcpu.getSregs();
 * s.cs(Segment.code64(0x08, 0));  // a flat 64-bit ring-0 code segment
 * s.ss(s.ss().withDpl(0).withSelector(0x10));
 * vcpu.setSregs(s);
 * }</pre>
 *
 * @param base the segment's base address (guest-virtual; in real mode, the selector times 16)
 * @param limit the offset of the segment's last byte, in bytes (the hidden, already scaled limit:
 *     {@code 0xffffffff} for a flat 4 GiB segment)
 * @param selector the 16-bit selector: the descriptor's index times 8, the table bit and the
 *     requested privilege level
 * @param type the 4-bit type field (code/data, accessed, readable/writable, ...)
 * @param present whether the segment is present (P)
 * @param dpl the descriptor privilege level, 0 to 3
 * @param db the default operation size (D/B): 32-bit when set, 16-bit when clear; clear for
 *     64-bit code
 * @param s set for a code or data segment, clear for a system segment (TSS, LDT)
 * @param l set for a 64-bit code segment
 * @param g the granularity: whether the descriptor's limit counts 4 KiB pages
 * @param avl the bit left available to system software
 * @param unusable whether the segment register holds no usable segment (a null selector)
 */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /**
     * {@return a flat 64-bit code segment at privilege level {@code dpl}}
     *
     * @param selector its selector in the GDT
     * @param dpl the privilege level, 0 to 3
     */
    public static Segment code64(int selector, int dpl) {
        return new Segment(0, 0xffffffff, selector, 0xb, true, dpl, false, true, true, true, false, false);
    }

    /**
     * {@return a flat read-write data segment (4 GiB, 32-bit) at privilege level {@code dpl}, also
     * good for the data segments of 64-bit code}
     *
     * @param selector its selector in the GDT
     * @param dpl the privilege level, 0 to 3
     */
    public static Segment data(int selector, int dpl) {
        return new Segment(0, 0xffffffff, selector, 0x3, true, dpl, true, true, false, true, false, false);
    }

    /**
     * {@return a real-mode segment with selector {@code selector}: base selector * 16, 64 KiB limit}
     *
     * @param selector the real-mode segment number, 0 to 0xffff
     * @param code true for a code segment (CS), false for a data one
     */
    public static Segment real(int selector, boolean code) {
        return new Segment((long) selector << 4, 0xffff, selector, code ? 0xb : 0x3, true, 0,
                false, true, false, false, false, false);
    }

    /**
     * {@return a 64-bit TSS (type 0xb, marked busy as the CPU expects once TR is loaded)}
     *
     * @param selector its selector in the GDT
     * @param base the TSS's guest-virtual address
     * @param limit the offset of its last byte (at least 0x67)
     */
    public static Segment tss64(int selector, long base, int limit) {
        return new Segment(base, limit, selector, 0xb, true, 0, false, false, false, false, false, false);
    }

    /**
     * {@return this segment with {@code base} replaced}
     *
     * @param value the base address
     */
    public Segment withBase(long value) {
        return new Segment(value, limit, selector, type, present, dpl, db, s, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code limit} replaced}
     *
     * @param value the limit: the offset of the last byte
     */
    public Segment withLimit(int value) {
        return new Segment(base, value, selector, type, present, dpl, db, s, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code selector} replaced}
     *
     * @param value the selector
     */
    public Segment withSelector(int value) {
        return new Segment(base, limit, value, type, present, dpl, db, s, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code type} replaced}
     *
     * @param value the 4-bit type
     */
    public Segment withType(int value) {
        return new Segment(base, limit, selector, value, present, dpl, db, s, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code present} replaced}
     *
     * @param value whether the segment is present
     */
    public Segment withPresent(boolean value) {
        return new Segment(base, limit, selector, type, value, dpl, db, s, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code dpl} replaced}
     *
     * @param value the descriptor privilege level
     */
    public Segment withDpl(int value) {
        return new Segment(base, limit, selector, type, present, value, db, s, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code db} replaced}
     *
     * @param value the default operation size bit
     */
    public Segment withDb(boolean value) {
        return new Segment(base, limit, selector, type, present, dpl, value, s, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code s} replaced}
     *
     * @param value the code-or-data bit
     */
    public Segment withS(boolean value) {
        return new Segment(base, limit, selector, type, present, dpl, db, value, l, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code l} replaced}
     *
     * @param value the 64-bit code bit
     */
    public Segment withL(boolean value) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, value, g, avl, unusable);
    }

    /**
     * {@return this segment with {@code g} replaced}
     *
     * @param value the granularity bit
     */
    public Segment withG(boolean value) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, l, value, avl, unusable);
    }

    /**
     * {@return this segment with {@code avl} replaced}
     *
     * @param value the available bit
     */
    public Segment withAvl(boolean value) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, l, g, value, unusable);
    }

    /**
     * {@return this segment with {@code unusable} replaced}
     *
     * @param value whether the segment is unusable
     */
    public Segment withUnusable(boolean value) {
        return new Segment(base, limit, selector, type, present, dpl, db, s, l, g, avl, value);
    }

    @Override
    public String toString() {
        return String.format("sel=%04x base=%016x limit=%08x type=%x dpl=%d%s%s%s%s%s",
                selector, base, limit, type, dpl, present ? " P" : "", db ? " DB" : "",
                s ? " S" : "", l ? " L" : "", g ? " G" : "") + (unusable ? " unusable" : "");
    }
}
