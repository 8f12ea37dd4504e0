package dev.kvmctl.contexts;

import dev.kvmctl.Capability;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmException;
import dev.kvmctl.Vcpu;
import dev.kvmctl.state.Cpuid;
import dev.kvmctl.state.DebugRegs;
import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.MpState;
import dev.kvmctl.state.Msrs;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.VcpuEvents;
import dev.kvmctl.state.Xcrs;
import dev.kvmctl.state.Xsave;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A vCPU's whole architectural state: MP state, general and special registers, XSAVE (x87, SSE,
 * AVX, ...), XCRs, debug registers, the local APIC (with an in-kernel irqchip), every MSR KVM
 * reports as saveable, pending events, CPUID and the TSC frequency.
 *
 * <p>A context owns one buffer per part, so {@link #capture} and {@link #restore} read and write
 * them in place with one ioctl each and allocate nothing: a switcher keeps one context per vCPU
 * and reuses it at every switch.
 *
 * <pre>{@code
 * VcpuContext ctx = new VcpuContext(kvm, vm.hasIrqchip());
 * ctx.capture(vcpu);
 * try (Vm fresh = kvm.createVm()) {   // a brand-new VM over the same memory
 *     fresh.mapMemory(0, ram);
 *     ctx.restore(fresh.createVcpu(0));
 *     ...
 * }
 * byte[] saved = ctx.encode();        // versioned and checksummed
 * }</pre>
 *
 * <p>Not thread-safe; the accessors return the context's own structs, which the next capture,
 * restore or decode overwrites.
 */
public final class VcpuContext {
    private static final int MSR_IA32_TSC = 0x10;
    private static final int MSR_IA32_TSC_DEADLINE = 0x6e0;
    /** KVM_SET_MSRS refuses 256 entries or more (the kernel's MAX_IO_MSRS) with E2BIG. */
    private static final int MAX_MSRS = 255;

    private final boolean lapicPresent;
    private final boolean xcrsPresent;
    private final MpState mpState = new MpState();
    private final Regs regs = new Regs();
    private final SRegs sregs = new SRegs();
    private final Xsave xsave;
    private final Xcrs xcrs = new Xcrs();
    private final DebugRegs debugRegs = new DebugRegs();
    private final Lapic lapic = new Lapic();
    private final VcpuEvents events = new VcpuEvents();
    private final Cpuid cpuid = new Cpuid(Cpuid.MAX_ENTRIES);
    private Msrs msrs;
    private final List<Integer> droppedMsrs = new ArrayList<>();
    private int tscKhz;

    /**
     * A context for vCPUs of {@code kvm}'s VMs; {@code irqchip} says whether those VMs have an
     * in-kernel irqchip (and so a local APIC to save). Reads the host's XSAVE size, whether it has
     * XCRs, and its list of saveable MSRs, once.
     *
     * @param kvm the open KVM the vCPUs' VMs come from
     * @param irqchip whether those VMs have an in-kernel irqchip
     * @throws IllegalStateException if {@code kvm} is closed
     */
    public VcpuContext(Kvm kvm, boolean irqchip) {
        this.lapicPresent = irqchip;
        this.xcrsPresent = kvm.has(Capability.XCRS);
        this.xsave = new Xsave(kvm.xsaveSize());
        this.msrs = Msrs.of(orderedMsrs(kvm.msrIndexList()));
    }

    /**
     * TSC before TSC-deadline: KVM restores the deadline relative to the TSC it already has. The
     * TSC goes first, the deadline last, the rest in KVM's order. Plain arrays: this runs on the
     * way to a restored guest's first {@code KVM_RUN}, where a stream's first use costs ms.
     */
    private static int[] orderedMsrs(int[] indices) {
        int[] ordered = new int[indices.length];
        int n = 0;
        boolean tsc = false;
        boolean deadline = false;
        for (int i : indices) {
            if (i == MSR_IA32_TSC) {
                tsc = true;
            } else if (i == MSR_IA32_TSC_DEADLINE) {
                deadline = true;
            }
        }
        if (tsc) {
            ordered[n++] = MSR_IA32_TSC;
        }
        for (int i : indices) {
            if (i != MSR_IA32_TSC && i != MSR_IA32_TSC_DEADLINE) {
                ordered[n++] = i;
            }
        }
        if (deadline) {
            ordered[n++] = MSR_IA32_TSC_DEADLINE;
        }
        return n == ordered.length ? ordered : Arrays.copyOf(ordered, n);
    }

    /**
     * Reads the vCPU's state into this context, in Firecracker's order. The vCPU must not be
     * inside KVM_RUN, and an I/O exit must have been completed first (see
     * {@code Machine.completePendingIo()}). MSRs KVM lists but cannot read here are left out from
     * now on ({@link #droppedMsrs()}).
     *
     * @param vcpu the vCPU, of a VM like the one this context was made for
     * @throws IllegalStateException if {@code vcpu} is closed
     * @throws KvmException if KVM refuses a read (for example {@code EINVAL} for the local APIC of
     *     a vCPU without an in-kernel irqchip, when the context was made for one with)
     */
    public void capture(Vcpu vcpu) {
        // MP state first: KVM_GET_MP_STATE may accept pending INIT/SIPI events, changing the
        // vCPU and LAPIC state that the later reads return.
        vcpu.getMpState(mpState);
        vcpu.getRegs(regs);
        vcpu.getSregs(sregs);
        vcpu.getXsave(xsave);
        if (xcrsPresent) {
            vcpu.getXcrs(xcrs);
        }
        vcpu.getDebugRegs(debugRegs);
        if (lapicPresent) {
            vcpu.getLapic(lapic);
        }
        tscKhz = vcpu.tscKhz();
        vcpu.getCpuid(cpuid);
        captureMsrs(vcpu);
        // Events last: the other reads may change what is pending.
        vcpu.getVcpuEvents(events);
    }

    private void captureMsrs(Vcpu vcpu) {
        while (true) {
            msrs.count(msrs.capacity());
            int read = vcpu.getMsrs(msrs);
            if (read == msrs.capacity()) {
                return;
            }
            // KVM stops at the first MSR it cannot read; leave that one out from now on.
            dropMsr(read);
        }
    }

    /**
     * Writes this context into the vCPU, in Firecracker's order: CPUID first (KVM checks XSAVE,
     * XCR0 and MSR writes against it, and without it an XSAVE restore silently drops AVX state);
     * regs before vCPU events (KVM_SET_REGS clears pending exceptions, the events restore them);
     * LAPIC after sregs (which set the APIC base) and before MSRs (the TSC-deadline MSR needs a
     * configured LAPIC); events last. An MSR KVM refuses to set is left out from now on
     * ({@link #droppedMsrs()}).
     *
     * @param vcpu the vCPU: this one again, or a vCPU of a brand-new VM over the same memory
     * @throws IllegalStateException if {@code vcpu} is closed
     * @throws KvmException if KVM refuses a part (for example {@code EINVAL} for state the vCPU's
     *     host cannot hold)
     */
    public void restore(Vcpu vcpu) {
        vcpu.setCpuid(cpuid); // before XSAVE, or KVM silently zeroes the AVX state
        restoreGuestWritable(vcpu, true, false);
    }

    /**
     * Restores what a running guest can change, into the vCPU this context was captured from, in
     * {@link #restore}'s order but without CPUID (only the host sets it) and, unless {@code msrs},
     * without the MSRs: a {@link Checkpoint} reset. With {@code syncRegs} (KVM syncs all three
     * sets, {@link Capability#SYNC_REGS}) and neither a local APIC nor MSRs to restore, the
     * registers, special registers and events go through the {@code kvm_run} page instead of three
     * ioctls (see {@link #restoreThroughSyncRegs}). Allocates nothing.
     */
    void restoreGuestWritable(Vcpu vcpu, boolean msrs, boolean syncRegs) {
        if (syncRegs && !msrs && !lapicPresent) {
            restoreThroughSyncRegs(vcpu);
            return;
        }
        vcpu.setMpState(mpState);
        vcpu.setRegs(regs);
        vcpu.setSregs(sregs);
        vcpu.setXsave(xsave);
        if (xcrsPresent) {
            vcpu.setXcrs(xcrs);
        }
        vcpu.setDebugRegs(debugRegs);
        if (lapicPresent) {
            vcpu.setLapic(lapic);
        }
        if (msrs) {
            restoreMsrs(vcpu);
        }
        vcpu.setVcpuEvents(events);
    }

    /**
     * {@link #restoreGuestWritable}'s order with the registers, special registers and events left
     * in the {@code kvm_run} page for KVM to apply at the next {@code KVM_RUN}'s entry (its
     * {@code sync_regs}, which applies them in that order: regs, sregs, events), after the XSAVE
     * area, XCRs and debug registers set here. The same state results, because none of those three
     * depends on what the special registers set: KVM_SET_XSAVE checks the area against the guest's
     * CPUID, not CR4 or XCR0; KVM_SET_XCRS checks XCR0 against CPUID (CR4.OSXSAVE only gates the
     * guest's own XSETBV); KVM_SET_DEBUGREGS takes DR0-3, DR6 and DR7 as they are. The two that do
     * depend on sregs keep the ioctl order: the local APIC (its base is in sregs) and the MSRs (KVM
     * checks some addresses against CR4.LA57), so {@link #restoreGuestWritable} uses this only when
     * neither is to be restored. What the ioctl order relies on still holds: the MP state comes
     * first (KVM_SET_MP_STATE checks it against the SMM flag, which the events restore last either
     * way); the registers come before the special registers (KVM_SET_SREGS reads RIP for the
     * reset-vector case) and before the events (KVM_SET_REGS drops a pending exception, the events
     * bring the checkpoint's back), the order {@code sync_regs} keeps. Until that entry any
     * state call on the vCPU applies the pending sets first ({@link Vcpu#syncDirtyRegs}), so a
     * capture or a get right after the reset sees the checkpoint's state. They are written after
     * every ioctl here for that reason: an ioctl would apply the previous reset's pending sets.
     */
    private void restoreThroughSyncRegs(Vcpu vcpu) {
        vcpu.setMpState(mpState);
        vcpu.setXsave(xsave);
        if (xcrsPresent) {
            vcpu.setXcrs(xcrs);
        }
        vcpu.setDebugRegs(debugRegs);
        vcpu.writeSyncedRegs(regs);
        vcpu.writeSyncedSregs(sregs);
        vcpu.writeSyncedVcpuEvents(events);
        vcpu.syncDirtyRegs(Vcpu.SYNC_REGS | Vcpu.SYNC_SREGS | Vcpu.SYNC_EVENTS);
    }

    private void restoreMsrs(Vcpu vcpu) {
        while (true) {
            int written = vcpu.setMsrs(msrs);
            if (written == msrs.count()) {
                return;
            }
            // Without an in-kernel LAPIC KVM refuses MSR_KVM_ASYNC_PF_INT, and stops there.
            // Leave the refused MSR out (from captures too) and set the rest.
            dropMsr(written);
        }
    }

    private void dropMsr(int position) {
        int bad = msrs.index(position);
        droppedMsrs.add(bad);
        Msrs smaller = new Msrs(msrs.count() - 1);
        for (int i = 0, j = 0; i < msrs.count(); i++) {
            if (i != position) {
                smaller.index(j, msrs.index(i)).value(j, msrs.value(i));
                j++;
            }
        }
        if (smaller.capacity() == 0) {
            throw new KvmException("KVM_GET_MSRS", KvmException.NO_ERRNO, "KVM can save none of the MSRs it lists");
        }
        msrs = smaller;
    }

    /** {@return the general-purpose registers, this context's own struct} */
    public Regs regs() { return regs; }
    /** {@return the special registers, this context's own struct} */
    public SRegs sregs() { return sregs; }
    /** {@return the XSAVE area (x87, SSE, AVX, ...), this context's own struct} */
    public Xsave xsave() { return xsave; }
    /**
     * {@return the MSRs saved, indices and values; this context's own list, replaced when an MSR is dropped}
     */
    public Msrs msrs() { return msrs; }
    /** {@return the multiprocessing state, this context's own struct} */
    public MpState mpState() { return mpState; }
    /** {@return the pending and injected events, this context's own struct} */
    public VcpuEvents events() { return events; }
    /** {@return the CPUID table, this context's own} */
    public Cpuid cpuid() { return cpuid; }
    /** {@return the guest's TSC frequency in kHz at capture (informational: restore does not set it)} */
    public int tscKhz() { return tscKhz; }

    /**
     * {@return the MSRs KVM lists as saveable that this context leaves out because KVM refused
     * them here, in the order refused; an unmodifiable copy}
     */
    public List<Integer> droppedMsrs() {
        return List.copyOf(droppedMsrs);
    }

    /**
     * Copies every part of {@code other} (a context of the same host) into this one.
     *
     * @param other the context to copy
     * @throws ContextFormatException if {@code other} was made for VMs with other devices (a local
     *     APIC where this has none, or the reverse)
     */
    public void copyFrom(VcpuContext other) {
        decode(other.encode());
    }

    /**
     * {@return a new array holding the context in kvmctl's versioned, checksummed format ({@link Sections})}
     */
    public byte[] encode() {
        return sections().encode();
    }

    Sections sections() {
        Sections s = new Sections()
                .put(Sections.MP_STATE, mpState).put(Sections.REGS, regs).put(Sections.SREGS, sregs)
                .put(Sections.XSAVE, xsave).put(Sections.DEBUG_REGS, debugRegs)
                .put(Sections.MSRS, msrs).put(Sections.VCPU_EVENTS, events).put(Sections.CPUID, cpuid)
                .putInt(Sections.TSC_KHZ, tscKhz);
        if (xcrsPresent) {
            s.put(Sections.XCRS, xcrs);
        }
        if (lapicPresent) {
            s.put(Sections.LAPIC, lapic);
        }
        return s;
    }

    /**
     * Replaces this context with an encoded one, refusing it whole if any part does not fit this
     * host: nothing changes then.
     *
     * @param encoded what {@link #encode()} returned, here or in another process
     * @throws ContextFormatException if it is damaged, has a local APIC where this context has
     *     none (or the reverse), lists more MSRs than KVM sets in one call, or a part has another
     *     size than on this host
     */
    public void decode(byte[] encoded) {
        load(Sections.decode(encoded));
    }

    void load(Sections s) {
        if (s.has(Sections.LAPIC) != lapicPresent) {
            throw new ContextFormatException(lapicPresent
                    ? "the context has no local APIC state, but this VM has an in-kernel irqchip"
                    : "the context has local APIC state, but this VM has no in-kernel irqchip");
        }
        byte[] msrBytes = s.get(Sections.MSRS);
        int entries;
        try {
            entries = Msrs.entriesIn(msrBytes.length);
        } catch (IllegalArgumentException e) {
            throw new ContextFormatException("the context's MSR section is malformed: " + e.getMessage());
        }
        if (entries > MAX_MSRS) {
            throw new ContextFormatException("the context lists " + entries + " MSRs; KVM sets at most " + MAX_MSRS + " in one call");
        }
        Msrs loadedMsrs = new Msrs(entries);
        // Validate everything into scratch structs first, so a bad context changes nothing.
        MpState mp = new MpState();
        Regs r = new Regs();
        SRegs sr = new SRegs();
        Xsave xs = new Xsave(xsave.size());
        Xcrs xc = new Xcrs();
        DebugRegs dr = new DebugRegs();
        Lapic la = new Lapic();
        VcpuEvents ev = new VcpuEvents();
        Cpuid cp = new Cpuid(Cpuid.MAX_ENTRIES);
        s.get(Sections.MP_STATE, mp);
        s.get(Sections.REGS, r);
        s.get(Sections.SREGS, sr);
        s.get(Sections.XSAVE, xs);
        s.get(Sections.DEBUG_REGS, dr);
        s.get(Sections.MSRS, loadedMsrs);
        s.get(Sections.VCPU_EVENTS, ev);
        s.get(Sections.CPUID, cp);
        int khz = s.getInt(Sections.TSC_KHZ);
        if (xcrsPresent) {
            s.get(Sections.XCRS, xc);
        }
        if (lapicPresent) {
            s.get(Sections.LAPIC, la);
        }
        mpState.copyFrom(mp);
        regs.copyFrom(r);
        sregs.copyFrom(sr);
        xsave.copyFrom(xs);
        debugRegs.copyFrom(dr);
        events.copyFrom(ev);
        cpuid.copyFrom(cp);
        xcrs.copyFrom(xc);
        lapic.copyFrom(la);
        msrs = loadedMsrs;
        tscKhz = khz;
    }

    /**
     * Takes the state of {@code loaded}, a context for the same KVM and irqchip that was just
     * loaded (and so checked) and is dropped afterwards: what {@link #copyFrom} does, struct by
     * struct, without encoding and decoding it again (a restore does this on the way to the
     * guest's first {@code KVM_RUN}). Its MSR list becomes this context's own.
     */
    void takeLoaded(VcpuContext loaded) {
        if (loaded.lapicPresent != lapicPresent || loaded.xcrsPresent != xcrsPresent || loaded.xsave.size() != xsave.size()) {
            throw new IllegalArgumentException("a context for another kind of VM");
        }
        mpState.copyFrom(loaded.mpState);
        regs.copyFrom(loaded.regs);
        sregs.copyFrom(loaded.sregs);
        xsave.copyFrom(loaded.xsave);
        debugRegs.copyFrom(loaded.debugRegs);
        events.copyFrom(loaded.events);
        cpuid.copyFrom(loaded.cpuid);
        xcrs.copyFrom(loaded.xcrs);
        lapic.copyFrom(loaded.lapic);
        msrs = loaded.msrs;
        tscKhz = loaded.tscKhz;
    }

    /**
     * {@return whether both contexts hold byte-identical state (the TSC MSR included)}
     *
     * @param other the context to compare with
     */
    public boolean sameStateAs(VcpuContext other) {
        return Arrays.equals(encode(), other.encode());
    }
}
