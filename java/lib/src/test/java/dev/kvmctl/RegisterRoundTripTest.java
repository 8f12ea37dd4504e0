package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.state.Cpuid;
import dev.kvmctl.state.DebugRegs;
import dev.kvmctl.state.Fpu;
import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.MpState;
import dev.kvmctl.state.Msrs;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.Translation;
import dev.kvmctl.state.VcpuEvents;
import dev.kvmctl.state.Xcrs;
import dev.kvmctl.state.Xsave;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Each part of a vCPU's state survives set-then-get: every setter is given a value different from
 * what the vCPU held, so a setter that did nothing would fail.
 */
class RegisterRoundTripTest {
    private Kvm kvm;
    private GuestMemory ram;
    private Vm vm;
    private Vcpu vcpu;

    @BeforeEach
    void setUp() {
        KvmAvailable.assumeKvm();
        kvm = Kvm.open();
        ram = GuestMemory.anonymous(4 << 20);
        vm = kvm.createVm();
        vm.createIrqchip();
        vm.mapMemory(0, ram);
        vcpu = vm.createVcpu(0);
        BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), 0, 0x100000, ram.size(), BootInfo.single(ram.size()));
    }

    @AfterEach
    void tearDown() {
        if (vm != null) {
            vm.close();
            ram.close();
            kvm.close();
        }
    }

    @Test
    void generalRegisters() {
        Regs regs = new Regs();
        for (int i = 0; i < Regs.NAMES.length - 1; i++) {
            regs.set(i, 0x1111_1111_1111_1111L * (i + 1));
        }
        regs.rflags(0x2 | 0x1 | 0x40 | 0x800); // CF, ZF, OF
        vcpu.setRegs(regs);
        Regs back = vcpu.getRegs(new Regs());
        assertEquals(regs, back, () -> "set:\n" + regs + "got:\n" + back);
        assertEquals(0x5555_5555_5555_5555L, back.rsi());
        assertEquals(back, vcpu.regsView(), "the per-vCPU view reads the same");
        assertEquals(back, vcpu.getRegs(), "and so does a fresh copy");
        assertSame(vcpu.regsView(), vcpu.regsView(), "a view is the vCPU's own struct, reused");
        assertSame(vcpu.sregsView(), vcpu.sregsView(), "so is the special registers' view");
        Regs before = vcpu.getRegs();
        vcpu.setRegs(vcpu.getRegs().rax(before.rax() + 1));
        Regs after = vcpu.getRegs();
        assertNotSame(before, after, "getRegs() returns a new copy each time");
        assertEquals(before.rax() + 1, after.rax(), "so a before/after comparison sees the change");
    }

    @Test
    void specialRegisters() {
        SRegs s = vcpu.getSregs(new SRegs());
        s.cr2(0xdead_b000L);
        vcpu.setSregs(s);
        SRegs back = vcpu.getSregs(new SRegs());
        assertEquals(s, back, () -> "set:\n" + s + "\ngot:\n" + back);
        assertEquals(0xdead_b000L, back.cr2());
        assertEquals(BootSetup.PML4, back.cr3());
        assertTrue((back.efer() & 0x400) != 0, "long mode active");
    }

    @Test
    void fpuXsaveAndXcrs() {
        Fpu fpu = vcpu.getFpu(new Fpu());
        fpu.fcw(0x27f); // double precision instead of extended
        vcpu.setFpu(fpu);
        assertEquals(0x27f, vcpu.getFpu(new Fpu()).fcw());

        Xsave xsave = vcpu.getXsave(new Xsave(kvm.xsaveSize()));
        xsave.mxcsr(0x1fa0).xstateBv(xsave.xstateBv() | 2); // round toward minus infinity; SSE state present
        vcpu.setXsave(xsave);
        Xsave back = vcpu.getXsave(new Xsave(kvm.xsaveSize()));
        assertEquals(0x1fa0, back.mxcsr());
        assertEquals(xsave, back);

        // XCR0 may only enable what the vCPU's CPUID offers: give it XSAVE (KVM's PVM backend leaves
        // the bit out of its supported CPUID) and the x87/SSE components, then switch between two
        // values, each different from the one before.
        vcpu.setCpuid(withXsave(kvm.supportedCpuid()));
        long current = vcpu.getXcrs(new Xcrs()).value(0);
        for (long xcr0 : current == 0x3 ? new long[] {0x1, 0x3} : new long[] {0x3, 0x1}) {
            vcpu.setXcrs(new Xcrs().xcr0(xcr0));
            Xcrs xcrsBack = vcpu.getXcrs(new Xcrs());
            assertEquals(1, xcrsBack.count());
            assertEquals(0, xcrsBack.xcr(0));
            assertEquals(xcr0, xcrsBack.value(0), "XCR0 written");
        }
    }

    /** {@code cpuid} with CPUID.1:ECX.XSAVE set. */
    private static Cpuid withXsave(Cpuid cpuid) {
        Cpuid copy = new Cpuid(Cpuid.MAX_ENTRIES);
        copy.copyFrom(cpuid);
        for (int i = 0; i < copy.count(); i++) {
            Cpuid.Entry e = copy.entry(i);
            if (e.function() == 1) {
                copy.entry(i, new Cpuid.Entry(e.function(), e.index(), e.flags(), e.eax(), e.ebx(), e.ecx() | 1 << 26, e.edx()));
            }
        }
        return copy;
    }

    /** MSRs the test changes, with values every x86-64 vCPU accepts (canonical addresses, valid selectors). */
    private static final Map<Integer, Long> CHANGED_MSRS = Map.of(
            0x174, 0x10L,                           // IA32_SYSENTER_CS
            0x175, 0xffff_8000_0000_1000L,          // IA32_SYSENTER_ESP
            0x176, 0xffff_ffff_8100_0040L,          // IA32_SYSENTER_EIP
            0xc000_0082, 0xffff_ffff_8120_0000L,    // IA32_LSTAR
            0xc000_0084, 0x4_7700L,                 // IA32_FMASK
            0xc000_0102, 0xffff_8880_0000_0000L);   // IA32_KERNEL_GS_BASE

    @Test
    void everySaveableMsr() {
        int[] indices = kvm.msrIndexList();
        assertTrue(indices.length > 10, "KVM reports saveable MSRs");
        Msrs msrs = Msrs.of(indices);
        int read = vcpu.getMsrs(msrs);
        assertEquals(indices.length, read, "every saveable MSR reads (with an in-kernel irqchip)");
        int changed = 0;
        for (int i = 0; i < read; i++) {
            Long value = CHANGED_MSRS.get(msrs.index(i));
            if (value != null) {
                assertNotEquals(value, msrs.value(i), String.format("MSR 0x%x already holds the test's value", msrs.index(i)));
                msrs.value(i, value);
                changed++;
            }
        }
        assertTrue(msrs.find(0x176).isPresent(), "IA32_SYSENTER_EIP is among the saveable MSRs");
        int written = vcpu.setMsrs(msrs);
        assertEquals(read, written, "every saveable MSR writes");
        Msrs back = Msrs.of(indices);
        assertEquals(read, vcpu.getMsrs(back));
        for (int i = 0; i < written; i++) {
            int index = msrs.index(i);
            if (index == 0x10 || index == 0x6e0) {
                continue; // TSC and TSC-deadline move with time
            }
            assertEquals(msrs.value(i), back.value(i), String.format("MSR 0x%x", index));
        }
        assertTrue(changed >= 3, "changed " + changed + " MSRs");
        assertEquals(0xffff_ffff_8100_0040L, back.find(0x176).orElseThrow(), "IA32_SYSENTER_EIP as written");
        assertTrue(msrs.find(0x10).isPresent(), "the TSC is among the saveable MSRs");
    }

    @Test
    void lapicMpStateEventsDebugRegsCpuid() {
        Lapic lapic = vcpu.getLapic(new Lapic());
        lapic.register(0x80, 0x20); // TPR
        vcpu.setLapic(lapic);
        assertEquals(0x20, vcpu.getLapic(new Lapic()).register(0x80));

        MpState mp = vcpu.getMpState(new MpState());
        assertEquals(MpState.RUNNABLE, mp.state());
        vcpu.setMpState(mp.state(MpState.HALTED));
        assertEquals(MpState.HALTED, vcpu.getMpState(new MpState()).state(), "MP state written");
        vcpu.setMpState(mp.state(MpState.RUNNABLE));
        assertEquals(MpState.RUNNABLE, vcpu.getMpState(new MpState()).state(), "and written back");

        // An NMI made pending, then replaced by an injected #UD (vector 6): each comes back.
        VcpuEvents events = vcpu.getVcpuEvents(new VcpuEvents());
        assertFalse(events.nmiPending() || events.exceptionInjected(), "nothing pending at boot");
        vcpu.setVcpuEvents(events.nmiPending(true));
        VcpuEvents eventsBack = vcpu.getVcpuEvents(new VcpuEvents());
        assertTrue(eventsBack.nmiPending(), "NMI pending written");
        assertFalse(eventsBack.exceptionInjected());
        vcpu.setVcpuEvents(eventsBack.nmiPending(false).exceptionInjected(true).exceptionVector(6));
        VcpuEvents injected = vcpu.getVcpuEvents(new VcpuEvents());
        assertFalse(injected.nmiPending(), "NMI no longer pending");
        assertTrue(injected.exceptionInjected(), "exception injected");
        assertEquals(6, injected.exceptionVector());

        DebugRegs dr = vcpu.getDebugRegs(new DebugRegs());
        dr.db(0, 0x100000).db(3, 0x200000).dr7(0x401);
        vcpu.setDebugRegs(dr);
        DebugRegs drBack = vcpu.getDebugRegs(new DebugRegs());
        assertEquals(0x100000, drBack.db(0));
        assertEquals(0x200000, drBack.db(3));
        assertEquals(0x401, drBack.dr7());

        Cpuid set = kvm.supportedCpuid();
        Cpuid got = vcpu.getCpuid(new Cpuid(Cpuid.MAX_ENTRIES));
        assertEquals(set.count(), got.count());
        assertEquals(set.find(0, 0).orElseThrow().ebx(), got.find(0, 0).orElseThrow().ebx(), "vendor string");
    }

    @Test
    void translateTscAndRawBytes() {
        Translation t = vcpu.translate(0x123456);
        assertTrue(t.valid());
        assertEquals(0x123456, t.physicalAddress(), "identity mapped");
        assertTrue(vcpu.tscKhz() > 0);

        SRegs s = vcpu.getSregs(new SRegs());
        SRegs copy = new SRegs();
        copy.load(s.toByteArray());
        assertArrayEquals(s.toByteArray(), copy.toByteArray());
        assertEquals(s, copy);
    }
}
