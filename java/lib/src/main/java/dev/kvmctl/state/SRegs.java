package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * Special registers ({@code struct kvm_sregs}): segments, descriptor tables, control registers,
 * EFER and the APIC base, read and written in place.
 *
 * <pre>{@code
 * SRegs s = vcpu.getSregs();
 * s.cr0(s.cr0() | 1).cs(Segment.code64(0x08, 0));
 * vcpu.setSregs(s);
 * }</pre>
 */
public final class SRegs extends KvmStruct {
    private static final int SIZE = Layout.sizeOf("kvm_sregs");
    private static final int CS = field("cs"), DS = field("ds"), ES = field("es"), FS = field("fs");
    private static final int GS = field("gs"), SS = field("ss"), TR = field("tr"), LDT = field("ldt");
    private static final int GDT = field("gdt"), IDT = field("idt");
    private static final int CR0 = field("cr0"), CR2 = field("cr2"), CR3 = field("cr3");
    private static final int CR4 = field("cr4"), CR8 = field("cr8"), EFER = field("efer");
    private static final int APIC_BASE = field("apic_base");

    private static final int SEG_BASE = Layout.offsetOf("kvm_segment", "base");
    private static final int SEG_LIMIT = Layout.offsetOf("kvm_segment", "limit");
    private static final int SEG_SELECTOR = Layout.offsetOf("kvm_segment", "selector");
    private static final int SEG_TYPE = Layout.offsetOf("kvm_segment", "type");
    private static final int SEG_PRESENT = Layout.offsetOf("kvm_segment", "present");
    private static final int SEG_DPL = Layout.offsetOf("kvm_segment", "dpl");
    private static final int SEG_DB = Layout.offsetOf("kvm_segment", "db");
    private static final int SEG_S = Layout.offsetOf("kvm_segment", "s");
    private static final int SEG_L = Layout.offsetOf("kvm_segment", "l");
    private static final int SEG_G = Layout.offsetOf("kvm_segment", "g");
    private static final int SEG_AVL = Layout.offsetOf("kvm_segment", "avl");
    private static final int SEG_UNUSABLE = Layout.offsetOf("kvm_segment", "unusable");
    private static final int DT_BASE = Layout.offsetOf("kvm_dtable", "base");
    private static final int DT_LIMIT = Layout.offsetOf("kvm_dtable", "limit");

    private static int field(String name) {
        return Layout.offsetOf("kvm_sregs", name);
    }

    /** A zeroed {@code struct kvm_sregs}, to fill with {@link dev.kvmctl.Vcpu#getSregs(SRegs)}. */
    public SRegs() {
        super(SIZE);
    }

    /** {@return CS, the code segment} */
    public Segment cs() { return segment(CS); }
    /** {@return DS, a data segment} */
    public Segment ds() { return segment(DS); }
    /** {@return ES, a data segment} */
    public Segment es() { return segment(ES); }
    /** {@return FS (in long mode, its base is the thread pointer many guests use)} */
    public Segment fs() { return segment(FS); }
    /** {@return GS (in long mode, its base is the per-CPU pointer many kernels use)} */
    public Segment gs() { return segment(GS); }
    /** {@return SS, the stack segment} */
    public Segment ss() { return segment(SS); }
    /** {@return TR, the task register (the TSS)} */
    public Segment tr() { return segment(TR); }
    /** {@return LDTR, the local descriptor table} */
    public Segment ldt() { return segment(LDT); }
    /** {@return GDTR: the global descriptor table's base and limit} */
    public DescriptorTable gdt() { return table(GDT); }
    /** {@return IDTR: the interrupt descriptor table's base and limit} */
    public DescriptorTable idt() { return table(IDT); }
    /** {@return CR0 (bit 0 PE, protected mode; bit 31 PG, paging)} */
    public long cr0() { return buffer.getLong(CR0); }
    /** {@return CR2: the address of the last page fault} */
    public long cr2() { return buffer.getLong(CR2); }
    /** {@return CR3: the guest-physical address of the top-level page table} */
    public long cr3() { return buffer.getLong(CR3); }
    /** {@return CR4 (bit 5 PAE; bit 9 OSFXSR; bit 18 OSXSAVE)} */
    public long cr4() { return buffer.getLong(CR4); }
    /** {@return CR8: the task priority} */
    public long cr8() { return buffer.getLong(CR8); }
    /** {@return EFER (bit 8 LME, long mode enabled; bit 10 LMA, long mode active)} */
    public long efer() { return buffer.getLong(EFER); }
    /** {@return the IA32_APIC_BASE MSR: the local APIC's base address and enable bits} */
    public long apicBase() { return buffer.getLong(APIC_BASE); }

    /**
     * Sets CS.
     *
     * @param s the segment
     * @return this struct
     */
    public SRegs cs(Segment s) { return segment(CS, s); }
    /**
     * Sets DS.
     *
     * @param s the segment
     * @return this struct
     */
    public SRegs ds(Segment s) { return segment(DS, s); }
    /**
     * Sets ES.
     *
     * @param s the segment
     * @return this struct
     */
    public SRegs es(Segment s) { return segment(ES, s); }
    /**
     * Sets FS.
     *
     * @param s the segment
     * @return this struct
     */
    public SRegs fs(Segment s) { return segment(FS, s); }
    /**
     * Sets GS.
     *
     * @param s the segment
     * @return this struct
     */
    public SRegs gs(Segment s) { return segment(GS, s); }
    /**
     * Sets SS.
     *
     * @param s the segment
     * @return this struct
     */
    public SRegs ss(Segment s) { return segment(SS, s); }
    /**
     * Sets TR.
     *
     * @param s the TSS segment
     * @return this struct
     */
    public SRegs tr(Segment s) { return segment(TR, s); }
    /**
     * Sets LDTR.
     *
     * @param s the LDT segment
     * @return this struct
     */
    public SRegs ldt(Segment s) { return segment(LDT, s); }
    /**
     * Sets DS, ES, FS, GS and SS to the same segment.
     *
     * @param s the segment
     * @return this struct
     */
    public SRegs dataSegments(Segment s) { return ds(s).es(s).fs(s).gs(s).ss(s); }
    /**
     * Sets GDTR.
     *
     * @param t the table's guest-virtual base and limit
     * @return this struct
     */
    public SRegs gdt(DescriptorTable t) { return table(GDT, t); }
    /**
     * Sets IDTR.
     *
     * @param t the table's guest-virtual base and limit
     * @return this struct
     */
    public SRegs idt(DescriptorTable t) { return table(IDT, t); }
    /**
     * Sets CR0.
     *
     * @param v the new value
     * @return this struct
     */
    public SRegs cr0(long v) { buffer.putLong(CR0, v); return this; }
    /**
     * Sets CR2.
     *
     * @param v the new value
     * @return this struct
     */
    public SRegs cr2(long v) { buffer.putLong(CR2, v); return this; }
    /**
     * Sets CR3.
     *
     * @param v the guest-physical address of the top-level page table, with its flag bits
     * @return this struct
     */
    public SRegs cr3(long v) { buffer.putLong(CR3, v); return this; }
    /**
     * Sets CR4.
     *
     * @param v the new value
     * @return this struct
     */
    public SRegs cr4(long v) { buffer.putLong(CR4, v); return this; }
    /**
     * Sets CR8.
     *
     * @param v the task priority, 0 to 15
     * @return this struct
     */
    public SRegs cr8(long v) { buffer.putLong(CR8, v); return this; }
    /**
     * Sets EFER.
     *
     * @param v the new value
     * @return this struct
     */
    public SRegs efer(long v) { buffer.putLong(EFER, v); return this; }
    /**
     * Sets the IA32_APIC_BASE MSR.
     *
     * @param v the new value
     * @return this struct
     */
    public SRegs apicBase(long v) { buffer.putLong(APIC_BASE, v); return this; }

    private Segment segment(int at) {
        return new Segment(buffer.getLong(at + SEG_BASE), buffer.getInt(at + SEG_LIMIT),
                Short.toUnsignedInt(buffer.getShort(at + SEG_SELECTOR)), buffer.get(at + SEG_TYPE),
                buffer.get(at + SEG_PRESENT) != 0, buffer.get(at + SEG_DPL), buffer.get(at + SEG_DB) != 0,
                buffer.get(at + SEG_S) != 0, buffer.get(at + SEG_L) != 0, buffer.get(at + SEG_G) != 0,
                buffer.get(at + SEG_AVL) != 0, buffer.get(at + SEG_UNUSABLE) != 0);
    }

    private SRegs segment(int at, Segment s) {
        buffer.putLong(at + SEG_BASE, s.base());
        buffer.putInt(at + SEG_LIMIT, s.limit());
        buffer.putShort(at + SEG_SELECTOR, (short) s.selector());
        buffer.put(at + SEG_TYPE, (byte) s.type());
        buffer.put(at + SEG_PRESENT, flag(s.present()));
        buffer.put(at + SEG_DPL, (byte) s.dpl());
        buffer.put(at + SEG_DB, flag(s.db()));
        buffer.put(at + SEG_S, flag(s.s()));
        buffer.put(at + SEG_L, flag(s.l()));
        buffer.put(at + SEG_G, flag(s.g()));
        buffer.put(at + SEG_AVL, flag(s.avl()));
        buffer.put(at + SEG_UNUSABLE, flag(s.unusable()));
        return this;
    }

    private DescriptorTable table(int at) {
        return new DescriptorTable(buffer.getLong(at + DT_BASE), Short.toUnsignedInt(buffer.getShort(at + DT_LIMIT)));
    }

    private SRegs table(int at, DescriptorTable t) {
        buffer.putLong(at + DT_BASE, t.base());
        buffer.putShort(at + DT_LIMIT, (short) t.limit());
        return this;
    }

    private static byte flag(boolean b) {
        return (byte) (b ? 1 : 0);
    }

    @Override
    public String toString() {
        return String.format("cs  %s%nds  %s%nss  %s%ntr  %s%ngdt %s  idt %s%n"
                        + "cr0 %016x cr2 %016x cr3 %016x cr4 %016x efer %016x",
                cs(), ds(), ss(), tr(), gdt(), idt(), cr0(), cr2(), cr3(), cr4(), efer());
    }
}
