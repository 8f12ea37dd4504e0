package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.state.DebugRegs;
import dev.kvmctl.state.Fpu;
import dev.kvmctl.state.Irqchip;
import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.PitState;
import dev.kvmctl.state.VcpuEvents;
import dev.kvmctl.state.Xcrs;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Every struct view's fields survive a round trip through the real kernel: each test sets fields
 * to values other than what KVM held, writes the struct with the set ioctl, reads it back into a
 * new struct with the get ioctl and compares field by field, so a setter or getter at a wrong
 * offset fails.
 */
class StateViewsTest {
    private Kvm kvm;
    private Vm vm;
    private Vcpu vcpu;

    @BeforeEach
    void setUp() {
        KvmAvailable.assumeKvm();
        kvm = Kvm.open();
        vm = kvm.createVm();
        vm.createIrqchip();
        vm.createPit();
        vcpu = vm.createVcpu(0);
        vcpu.setCpuid(kvm.supportedCpuid());
    }

    @AfterEach
    void tearDown() {
        if (vm != null) {
            vm.close();
        }
        if (kvm != null) {
            kvm.close();
        }
    }

    @Test
    void picRegistersRoundTrip() {
        Irqchip master = vm.getIrqchip(new Irqchip(Irqchip.PIC_MASTER));
        assertEquals(Irqchip.PIC_MASTER, master.chipId());
        int imr = master.pic(Irqchip.PicField.IMR) ^ 0xa5;
        master.pic(Irqchip.PicField.IMR, imr)
                .pic(Irqchip.PicField.IRQ_BASE, 0x20)
                .pic(Irqchip.PicField.AUTO_EOI, 1)
                .pic(Irqchip.PicField.SPECIAL_MASK, 1)
                .pic(Irqchip.PicField.READ_REG_SELECT, 1)
                .pic(Irqchip.PicField.PRIORITY_ADD, 3)
                .pic(Irqchip.PicField.INIT4, 1);
        vm.setIrqchip(master);
        Irqchip back = vm.getIrqchip(new Irqchip(Irqchip.PIC_MASTER));
        assertEquals(imr, back.pic(Irqchip.PicField.IMR));
        assertEquals(0x20, back.pic(Irqchip.PicField.IRQ_BASE));
        assertEquals(1, back.pic(Irqchip.PicField.AUTO_EOI));
        assertEquals(1, back.pic(Irqchip.PicField.SPECIAL_MASK));
        assertEquals(1, back.pic(Irqchip.PicField.READ_REG_SELECT));
        assertEquals(3, back.pic(Irqchip.PicField.PRIORITY_ADD));
        assertEquals(1, back.pic(Irqchip.PicField.INIT4));
        for (Irqchip.PicField f : Irqchip.PicField.values()) {
            assertEquals(master.pic(f), back.pic(f), f + " read back as set");
        }
        Irqchip slave = vm.getIrqchip(new Irqchip(Irqchip.PIC_SLAVE));
        assertNotEquals(0x20, slave.pic(Irqchip.PicField.IRQ_BASE), "setting the master left the slave alone");
    }

    @Test
    void ioapicFieldsAndRedirectionTableRoundTrip() {
        Irqchip ioapic = vm.getIrqchip(new Irqchip(Irqchip.IOAPIC));
        assertEquals(0xfec00000L, ioapic.ioapicBase(), "KVM's IOAPIC sits at the architectural base");
        Irqchip.Redirection pin4 = new Irqchip.Redirection(0x31, 0, true, false, true, false, true, false, 0x0f);
        ioapic.ioapicId(5).ioapicRegisterSelect(0x10).redirection(4, pin4)
                .redirection(23, Irqchip.Redirection.of(0).withVector(0x99).withDestination(0xff).withMasked(true));
        vm.setIrqchip(ioapic);
        Irqchip back = vm.getIrqchip(new Irqchip(Irqchip.IOAPIC));
        assertEquals(5, back.ioapicId());
        assertEquals(0x10, back.ioapicRegisterSelect());
        assertEquals(pin4, back.redirection(4));
        assertEquals(new Irqchip.Redirection(0x99, 0, false, false, false, false, false, true, 0xff), back.redirection(23));
        for (int pin = 0; pin < Irqchip.IOAPIC_PINS; pin++) {
            assertEquals(ioapic.redirectionBits(pin), back.redirectionBits(pin), "pin " + pin);
        }
    }

    @Test
    void pitChannelsAndFlagsRoundTrip() {
        PitState pit = vm.getPit(new PitState());
        pit.channel(2, PitState.ChannelField.MODE, 3)
                .channel(2, PitState.ChannelField.RW_MODE, 3)
                .channel(2, PitState.ChannelField.BCD, 1)
                .channel(2, PitState.ChannelField.WRITE_LATCH, 0x5a)
                .channel(2, PitState.ChannelField.STATUS, 0x36)
                .channel(2, PitState.ChannelField.STATUS_LATCHED, 1)
                .channel(2, PitState.ChannelField.LATCHED_COUNT, 0x4321)
                .channel(2, PitState.ChannelField.COUNT_LATCHED, 1)
                .flags(PitState.FLAGS_HPET_LEGACY);
        vm.setPit(pit);
        PitState back = vm.getPit(new PitState());
        assertEquals(3, back.channel(2, PitState.ChannelField.MODE));
        assertEquals(3, back.channel(2, PitState.ChannelField.RW_MODE));
        assertEquals(1, back.channel(2, PitState.ChannelField.BCD));
        assertEquals(0x5a, back.channel(2, PitState.ChannelField.WRITE_LATCH));
        assertEquals(0x36, back.channel(2, PitState.ChannelField.STATUS));
        assertEquals(1, back.channel(2, PitState.ChannelField.STATUS_LATCHED));
        assertEquals(0x4321, back.channel(2, PitState.ChannelField.LATCHED_COUNT));
        assertEquals(1, back.channel(2, PitState.ChannelField.COUNT_LATCHED));
        assertEquals(PitState.FLAGS_HPET_LEGACY, back.flags() & PitState.FLAGS_HPET_LEGACY);
        assertThrows(IndexOutOfBoundsException.class, () -> back.channel(PitState.CHANNEL_COUNT, PitState.ChannelField.MODE));
    }

    @Test
    void vcpuEventsRoundTrip() {
        VcpuEvents ev = vcpu.getVcpuEvents(new VcpuEvents());
        ev.nmiPending(true).nmiMasked(true).sipiVector(0x9a)
                .interruptShadow(VcpuEvents.SHADOW_STI)
                .flags(VcpuEvents.VALID_NMI_PENDING | VcpuEvents.VALID_SIPI_VECTOR | VcpuEvents.VALID_SHADOW);
        vcpu.setVcpuEvents(ev);
        VcpuEvents back = vcpu.getVcpuEvents(new VcpuEvents());
        assertTrue(back.nmiPending());
        assertTrue(back.nmiMasked());
        assertEquals(0, back.sipiVector(), "KVM takes the SIPI vector but never reports it back");
        assertEquals(VcpuEvents.SHADOW_STI, back.interruptShadow());
        assertTrue(!back.exceptionInjected() && !back.interruptInjected() && !back.smm());

        VcpuEvents exception = vcpu.getVcpuEvents(new VcpuEvents());
        exception.exceptionInjected(true).exceptionVector(13).exceptionHasErrorCode(true).exceptionErrorCode(0x18)
                .flags(0);
        vcpu.setVcpuEvents(exception);
        VcpuEvents gp = vcpu.getVcpuEvents(new VcpuEvents());
        assertTrue(gp.exceptionInjected());
        assertEquals(13, gp.exceptionVector());
        assertTrue(gp.exceptionHasErrorCode());
        assertEquals(0x18, gp.exceptionErrorCode());
    }

    @Test
    void vcpuEventsSettersWriteTheirOwnFields() {
        VcpuEvents ev = new VcpuEvents().exceptionPending(true).interruptSoft(true).interruptVector(0x80)
                .smm(true).smiPending(true).smiInsideNmi(true).latchedInit(true).tripleFaultPending(true)
                .exceptionHasPayload(true).exceptionPayload(0xdead_beef_0000L).nmiInjected(true);
        assertTrue(ev.exceptionPending() && ev.interruptSoft() && ev.smm() && ev.smiPending()
                && ev.smiInsideNmi() && ev.latchedInit() && ev.tripleFaultPending() && ev.exceptionHasPayload()
                && ev.nmiInjected());
        assertEquals(0x80, ev.interruptVector());
        assertEquals(0xdead_beef_0000L, ev.exceptionPayload());
        assertTrue(!ev.exceptionInjected() && !ev.interruptInjected() && !ev.nmiPending() && ev.flags() == 0,
                "no setter spilled into a neighbouring field");
    }

    @Test
    void fpuRoundTrip() {
        Fpu fpu = vcpu.getFpu(new Fpu());
        boolean reportsMxcsr = fpu.mxcsr() != 0; // this kernel (PVM) reports MXCSR as 0 in KVM_GET_FPU
        for (int i = 0; i < Fpu.FPR_COUNT; i++) {
            fpu.fpr(i, 0x8000_0000_0000_0000L | i, 0x3fff + i);
        }
        for (int i = 0; i < Fpu.XMM_COUNT; i++) {
            fpu.xmm(i, 0x0101_0101_0101_0101L * (i + 1), -(i + 1));
        }
        fpu.fcw(0x27f).fsw(0x3800).ftwx(0xff).lastOpcode(0x1d9).lastIp(0x1234_5678L).lastDp(0x9abc_def0L)
                .mxcsr(0x1fa0);
        vcpu.setFpu(fpu);
        Fpu back = vcpu.getFpu(new Fpu());
        for (int i = 0; i < Fpu.FPR_COUNT; i++) {
            assertEquals(0x8000_0000_0000_0000L | i, back.fprSignificand(i), "ST" + i);
            assertEquals(0x3fff + i, back.fprExponent(i), "ST" + i);
        }
        for (int i = 0; i < Fpu.XMM_COUNT; i++) {
            assertEquals(0x0101_0101_0101_0101L * (i + 1), back.xmmLow(i), "XMM" + i);
            assertEquals(-(i + 1), back.xmmHigh(i), "XMM" + i);
        }
        assertEquals(0x27f, back.fcw());
        assertEquals(0x3800, back.fsw());
        assertEquals(0xff, back.ftwx());
        assertEquals(0x1d9, back.lastOpcode());
        assertEquals(0x1234_5678L, back.lastIp());
        assertEquals(0x9abc_def0L, back.lastDp());
        if (reportsMxcsr) {
            assertEquals(0x1fa0, back.mxcsr());
        }
    }

    @Test
    void xcrsRoundTrip() {
        Xcrs x = vcpu.getXcrs(new Xcrs());
        assertTrue(x.count() >= 1);
        assertEquals(0, x.xcr(0), "entry 0 is XCR0");
        long xcr0 = x.value(0);
        Xcrs set = new Xcrs().count(1).entry(0, 0, 0x3); // x87 and SSE only
        vcpu.setXcrs(set);
        Xcrs back = vcpu.getXcrs(new Xcrs());
        assertEquals(0x3, back.value(0));
        vcpu.setXcrs(new Xcrs().xcr0(xcr0));
        assertEquals(xcr0, vcpu.getXcrs(new Xcrs()).value(0));
        assertThrows(IllegalArgumentException.class, () -> new Xcrs().count(Xcrs.CAPACITY + 1));
        assertThrows(IndexOutOfBoundsException.class, () -> new Xcrs().entry(Xcrs.CAPACITY, 0, 1));
    }

    @Test
    void debugRegsRoundTrip() {
        DebugRegs d = vcpu.getDebugRegs(new DebugRegs());
        for (int i = 0; i < DebugRegs.DB_COUNT; i++) {
            d.db(i, 0x1000L * (i + 1));
        }
        d.dr6(0xffff0ff1L).dr7(0x401L).flags(0);
        vcpu.setDebugRegs(d);
        DebugRegs back = vcpu.getDebugRegs(new DebugRegs());
        for (int i = 0; i < DebugRegs.DB_COUNT; i++) {
            assertEquals(0x1000L * (i + 1), back.db(i), "DR" + i);
        }
        assertEquals(0x401L, back.dr7());
        assertEquals(0xffff0ff1L, back.dr6());
        assertEquals(0, back.flags());
    }

    @Test
    void lapicRegistersByName() {
        Lapic lapic = vcpu.getLapic(new Lapic());
        assertEquals(0, lapic.apicId(), "vCPU 0's APIC id");
        assertEquals(lapic.register(0x20), lapic.register(Lapic.Register.ID));
        assertTrue((lapic.register(Lapic.Register.VERSION) & 0xff) != 0, "a version is reported");
        lapic.register(Lapic.Register.TPR, 0x20)
                .register(Lapic.Register.SVR, 0x1ff)
                .register(Lapic.Register.LVT_TIMER, 0x10040)
                .register(Lapic.Register.TIMER_DIVIDE, 0xb)
                .register(Lapic.Register.LVT_LINT0, 0x700)
                .register(Lapic.Register.LDR, 0x01000000);
        vcpu.setLapic(lapic);
        Lapic back = vcpu.getLapic(new Lapic());
        assertEquals(0x20, back.register(Lapic.Register.TPR));
        assertEquals(0x1ff, back.register(Lapic.Register.SVR));
        assertEquals(0x10040, back.register(Lapic.Register.LVT_TIMER));
        assertEquals(0xb, back.register(Lapic.Register.TIMER_DIVIDE));
        assertEquals(0x700, back.register(Lapic.Register.LVT_LINT0));
        assertEquals(0x01000000, back.register(Lapic.Register.LDR));
        for (int i = 0; i < Lapic.VECTOR_WORDS; i++) {
            assertEquals(0, back.isr(i) | back.irr(i) | back.tmr(i), "nothing in service or requested");
        }
        assertThrows(IllegalArgumentException.class, () -> back.register(0x24));
        assertThrows(IndexOutOfBoundsException.class, () -> back.register(Lapic.SIZE));
    }
}
