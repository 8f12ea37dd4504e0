package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Each part of a vCPU's state survives set-then-get unchanged. */
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
        assertEquals(back, vcpu.getRegs(), "the per-vCPU buffer reads the same");
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

        Xcrs xcrs = vcpu.getXcrs(new Xcrs());
        vcpu.setXcrs(xcrs);
        Xcrs xcrsBack = vcpu.getXcrs(new Xcrs());
        assertEquals(xcrs.count(), xcrsBack.count());
        for (int i = 0; i < xcrs.count(); i++) {
            assertEquals(xcrs.value(i), xcrsBack.value(i));
        }
    }

    @Test
    void everySaveableMsr() {
        int[] indices = kvm.msrIndexList();
        assertTrue(indices.length > 10, "KVM reports saveable MSRs");
        Msrs msrs = Msrs.of(indices);
        int read = vcpu.getMsrs(msrs);
        assertTrue(read > 0);
        msrs.count(read);
        int written = vcpu.setMsrs(msrs);
        Msrs back = Msrs.of(indices).count(written);
        vcpu.getMsrs(back);
        for (int i = 0; i < written; i++) {
            int index = msrs.index(i);
            if (index == 0x10 || index == 0x6e0) {
                continue; // TSC and TSC-deadline move with time
            }
            assertEquals(msrs.value(i), back.value(i), String.format("MSR 0x%x", index));
        }
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
        vcpu.setMpState(mp);
        assertEquals(mp, vcpu.getMpState(new MpState()));

        VcpuEvents events = vcpu.getVcpuEvents(new VcpuEvents());
        vcpu.setVcpuEvents(events);
        VcpuEvents eventsBack = vcpu.getVcpuEvents(new VcpuEvents());
        assertEquals(events.nmiPending(), eventsBack.nmiPending());
        assertEquals(events.exceptionInjected(), eventsBack.exceptionInjected());

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
