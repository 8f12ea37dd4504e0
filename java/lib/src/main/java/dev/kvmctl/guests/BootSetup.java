package dev.kvmctl.guests;

import dev.kvmctl.Vcpu;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.state.Cpuid;
import dev.kvmctl.state.DescriptorTable;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.Segment;
import dev.kvmctl.state.Xcrs;

/**
 * Puts a vCPU into the state {@code docs/guest-contract.md} promises: real mode, or 64-bit long
 * mode with identity paging at ring 0 or 3. Writes its tables into the guest's RAM (the boot area
 * below {@link #BOOT_AREA_END}).
 *
 * <pre>{@code
 * image.loadInto(ram);
 * BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 3, image.entry(), ram.size(), BootInfo.single(ram.size()));
 * }</pre>
 *
 * <p>The addresses below are guest-physical, inside the boot area
 * [{@link #BOOT_AREA_START}, {@link #BOOT_AREA_END}), which a long-mode image must leave alone.
 */
public final class BootSetup {
    /**
     * Where the {@link BootInfo} page goes: vCPU 0's copy, then the others' every
     * {@link BootInfo#STRIDE} bytes; each vCPU finds its own copy's address in RDI.
     */
    public static final long BOOT_INFO = 0x1000;
    /** The stack each vCPU gets: vCPU {@code i}'s starts {@code i} times this below the top of RAM. */
    public static final long STACK_PER_CPU = 64 << 10;
    /** The GDT: null, kernel code and data, user code and data, then the TSS descriptor. */
    public static final long GDT = 0x2000;
    /** The 64-bit TSS and its I/O permission bitmap, which allows every port (three pages). */
    public static final long TSS = 0x3000;
    /** The top-level page table. */
    public static final long PML4 = 0x6000;
    /** The page-directory-pointer table: one entry per GiB mapped. */
    public static final long PDPT = 0x7000;
    /** The first page directory (2 MiB pages); one page per GiB mapped follows it. */
    public static final long PAGE_DIRECTORIES = 0x8000;
    /** The first byte of the boot area kvmctl writes its tables into (long mode only). */
    public static final long BOOT_AREA_START = 0x1000;
    /** One past the boot area's last byte: a long-mode image loads at or above it. */
    public static final long BOOT_AREA_END = 0xa0000;
    /** SP for real-mode guests. */
    public static final long REAL_MODE_STACK = 0x7000;

    /** The ring-0 64-bit code segment selector (CS at ring 0). */
    public static final int KERNEL_CS = 0x08;
    /** The ring-0 data segment selector (SS, DS, ES, FS, GS at ring 0). */
    public static final int KERNEL_DS = 0x10;
    /** The ring-3 64-bit code segment selector, RPL 3 (CS at ring 3). */
    public static final int USER_CS = 0x1b;
    /** The ring-3 data segment selector, RPL 3 (SS, DS, ES, FS, GS at ring 3). */
    public static final int USER_DS = 0x23;
    /** The TSS selector loaded into TR. */
    public static final int TSS_SELECTOR = 0x28;

    private static final long GIB = 1L << 30;
    private static final long TWO_MIB = 2L << 20;
    /** How many page directories fit in the boot area, each mapping 1 GiB. */
    public static final int MAX_MAPPED_GIB = (int) ((BOOT_AREA_END - PAGE_DIRECTORIES) / 4096);

    private static final long CR0_PE = 1, CR0_MP = 1 << 1, CR0_ET = 1 << 4, CR0_NE = 1 << 5, CR0_WP = 1 << 16, CR0_PG = 1L << 31;
    private static final long CR4_PAE = 1 << 5, CR4_OSFXSR = 1 << 9, CR4_OSXMMEXCPT = 1 << 10, CR4_FSGSBASE = 1 << 16,
            CR4_OSXSAVE = 1 << 18;
    private static final long EFER_SCE = 1, EFER_LME = 1 << 8, EFER_LMA = 1 << 10, EFER_NXE = 1 << 11;
    private static final long PTE_PRESENT = 1, PTE_WRITE = 2, PTE_USER = 4, PTE_HUGE = 0x80;
    private static final long RFLAGS_RESERVED = 2, RFLAGS_IOPL3 = 3 << 12;
    /** XCR0 bits kvmctl enables when the CPU has them: x87, SSE, AVX. */
    private static final long XCR0_WANTED = 0x7;
    /** TSS layout: the 0x68-byte 64-bit TSS, then an I/O permission bitmap for all 65536 ports and its 0xff terminator. */
    private static final int TSS_IOMAP_BASE = 0x68;
    private static final int TSS_LIMIT = TSS_IOMAP_BASE + 65536 / 8;

    private BootSetup() {}

    /**
     * Puts {@code vcpu} in real mode at {@code entry}: CS:IP chosen so that CS*16 + IP = entry,
     * other segments 0, SP = {@link #REAL_MODE_STACK}, interrupts off. Writes nothing to memory.
     *
     * @param vcpu the vCPU to set up, not running
     * @param entry the guest-physical address of the first instruction, below 1 MiB
     * @throws IllegalArgumentException if {@code entry} is not below 1 MiB
     */
    public static void realMode(Vcpu vcpu, long entry) {
        if (entry < 0 || entry >= 0x100000) {
            throw new IllegalArgumentException(String.format("real-mode entry 0x%x is not below 1 MiB", entry));
        }
        int cs = (int) ((entry >> 4) & 0xf000);
        SRegs s = vcpu.getSregs();
        s.cs(Segment.real(cs, true)).dataSegments(Segment.real(0, false));
        s.cr0(s.cr0() & ~(CR0_PE | CR0_PG));
        vcpu.setSregs(s);
        Regs r = vcpu.getRegs();
        r.clear();
        vcpu.setRegs(r.rip(entry - ((long) cs << 4)).rsp(REAL_MODE_STACK).rflags(RFLAGS_RESERVED));
    }

    /**
     * Long mode at {@code entry} with identity paging of {@code [0, mapTop)} (rounded up to 1 GiB),
     * CPUID from {@code cpuid}, SSE and (where present) XSAVE/AVX and FSGSBASE enabled, and the boot
     * info written at its vCPU's {@link BootInfo#address()}. RSP is the top of RAM less
     * {@link #STACK_PER_CPU} per vCPU index, RDI the boot info's address. Every vCPU of an SMP
     * guest is set up this way, with its own {@code info} ({@link BootInfo#forCpu}): the tables
     * are the same for all, and the application processors start at {@code entry} like vCPU 0.
     *
     * @param vcpu the vCPU to set up, not running
     * @param ram the guest's RAM, mapped at guest-physical 0: its boot area is overwritten
     * @param cpuid the CPUID to give the vCPU, usually {@link dev.kvmctl.Kvm#supportedCpuid()}
     * @param ring 0 or 3 (3 also sets IOPL 3 so the guest may do port I/O)
     * @param entry the guest-virtual (and, identity-mapped, physical) address of the first instruction
     * @param mapTop the end of the guest-physical space to identity-map: RAM and any shared slots
     * @param info what the guest finds in its boot info, for this vCPU
     * @throws IllegalArgumentException for a ring other than 0 or 3, RAM smaller than the boot
     *     area and the vCPUs' stacks, or more than {@link #MAX_MAPPED_GIB} GiB to map
     */
    public static void longMode(Vcpu vcpu, GuestMemory ram, Cpuid cpuid, int ring, long entry, long mapTop, BootInfo info) {
        if (ring != 0 && ring != 3) {
            throw new IllegalArgumentException("ring must be 0 or 3, got " + ring);
        }
        long stackTop = (ram.size() - info.cpuIndex() * STACK_PER_CPU) & ~15L;
        if (ram.size() < BOOT_AREA_END || stackTop <= BOOT_AREA_END) {
            throw new IllegalArgumentException("long mode needs at least " + (BOOT_AREA_END + info.cpuCount() * STACK_PER_CPU)
                    + " bytes of RAM for kvmctl's boot area and " + info.cpuCount() + " vCPU stacks");
        }
        writePageTables(ram, mapTop);
        writeGdtAndTss(ram);
        info.writeTo(ram, info.address());

        // CPUID first: KVM checks CR4.OSXSAVE and XCR0 against the CPUID the vCPU was given.
        vcpu.setCpuid(cpuid);
        boolean xsave = hasBit(cpuid, 1, 0, Reg.ECX, 26);
        boolean fsgsbase = hasBit(cpuid, 7, 0, Reg.EBX, 0);

        SRegs s = vcpu.getSregs();
        Segment code = ring == 3 ? Segment.code64(USER_CS, 3) : Segment.code64(KERNEL_CS, 0);
        Segment data = ring == 3 ? Segment.data(USER_DS, 3) : Segment.data(KERNEL_DS, 0);
        s.cs(code).dataSegments(data)
                .tr(Segment.tss64(TSS_SELECTOR, TSS, TSS_LIMIT))
                .gdt(new DescriptorTable(GDT, 7 * 8 - 1))
                .idt(new DescriptorTable(0, 0))
                .cr3(PML4)
                .cr4(CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT | (xsave ? CR4_OSXSAVE : 0) | (fsgsbase ? CR4_FSGSBASE : 0))
                .cr0(CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG)
                .efer(EFER_SCE | EFER_LME | EFER_LMA | EFER_NXE);
        vcpu.setSregs(s);

        if (xsave) {
            long supported = cpuid.find(0xd, 0).map(e -> Integer.toUnsignedLong(e.eax())).orElse(0x3L);
            vcpu.setXcrs(new Xcrs().xcr0((supported & XCR0_WANTED) | 1));
        }

        Regs r = vcpu.getRegs();
        r.clear();
        vcpu.setRegs(r.rip(entry).rsp(stackTop).rdi(info.address())
                .rflags(RFLAGS_RESERVED | (ring == 3 ? RFLAGS_IOPL3 : 0)));
    }

    private static void writePageTables(GuestMemory ram, long mapTop) {
        long gib = Math.max(1, (mapTop + GIB - 1) / GIB);
        if (gib > MAX_MAPPED_GIB) {
            throw new IllegalArgumentException("kvmctl's identity map covers at most " + MAX_MAPPED_GIB
                    + " GiB of guest-physical space; " + gib + " GiB were asked for");
        }
        ram.fill(PML4, BOOT_AREA_END - PML4, (byte) 0);
        long flags = PTE_PRESENT | PTE_WRITE | PTE_USER;
        ram.putLong(PML4, PDPT | flags);
        for (int g = 0; g < gib; g++) {
            long pd = PAGE_DIRECTORIES + 4096L * g;
            ram.putLong(PDPT + 8L * g, pd | flags);
            for (int i = 0; i < 512; i++) {
                ram.putLong(pd + 8L * i, (g * GIB + i * TWO_MIB) | flags | PTE_HUGE);
            }
        }
    }

    private static void writeGdtAndTss(GuestMemory ram) {
        ram.fill(GDT, 4096, (byte) 0);
        ram.putLong(GDT + 0x08, 0x00af9b000000ffffL); // 64-bit code, DPL 0
        ram.putLong(GDT + 0x10, 0x00cf93000000ffffL); // data, DPL 0
        ram.putLong(GDT + 0x18, 0x00affb000000ffffL); // 64-bit code, DPL 3
        ram.putLong(GDT + 0x20, 0x00cff3000000ffffL); // data, DPL 3
        // 64-bit TSS descriptor (16 bytes): base TSS, type 0xb (busy, as loaded in TR), present.
        long base = TSS;
        long low = (TSS_LIMIT & 0xffff) | ((base & 0xffffff) << 16) | (0xbL << 40) | (1L << 47)
                | ((long) (TSS_LIMIT >>> 16) << 48) | (((base >> 24) & 0xff) << 56);
        ram.putLong(GDT + TSS_SELECTOR, low);
        ram.putLong(GDT + TSS_SELECTOR + 8, base >>> 32);
        ram.fill(TSS, PML4 - TSS, (byte) 0);
        ram.putLong(TSS + 4, BOOT_AREA_END); // RSP0, used only if the guest installs an IDT
        // An I/O bitmap that allows every port. IOPL 3 alone allows them on hardware KVM, but KVM's
        // PVM backend ignores the guest's IOPL and checks the TSS bitmap, so ring-3 port I/O needs both.
        ram.putShort(TSS + 0x66, (short) TSS_IOMAP_BASE);
        ram.putByte(TSS + TSS_LIMIT, (byte) 0xff);
    }

    private enum Reg { EAX, EBX, ECX, EDX }

    private static boolean hasBit(Cpuid cpuid, int leaf, int subleaf, Reg reg, int bit) {
        return cpuid.find(leaf, subleaf).map(e -> {
            int value = switch (reg) {
                case EAX -> e.eax();
                case EBX -> e.ebx();
                case ECX -> e.ecx();
                case EDX -> e.edx();
            };
            return (value >>> bit & 1) != 0;
        }).orElse(false);
    }
}
