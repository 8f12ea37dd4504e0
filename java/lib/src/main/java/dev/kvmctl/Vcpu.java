package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.internal.bridge.Shim;
import dev.kvmctl.state.Cpuid;
import dev.kvmctl.state.DebugRegs;
import dev.kvmctl.state.Fpu;
import dev.kvmctl.state.GuestDebug;
import dev.kvmctl.state.Lapic;
import dev.kvmctl.state.MpState;
import dev.kvmctl.state.Msrs;
import dev.kvmctl.state.Regs;
import dev.kvmctl.state.SRegs;
import dev.kvmctl.state.Translation;
import dev.kvmctl.state.VcpuEvents;
import dev.kvmctl.state.Xcrs;
import dev.kvmctl.state.Xsave;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * A virtual CPU: runs guest code with {@link #run()} and exposes every part of its architectural
 * state. Its {@code kvm_run} page is mapped once; exits and their data are read from it in place.
 *
 * <p>Hot calls allocate nothing: {@link #run()} returns a per-vCPU exit object, and
 * {@link #getRegs()}/{@link #getSregs()} refresh a per-vCPU struct that {@link #setRegs(Regs)}
 * writes straight back. The {@code get*(X into)} forms fill a struct the caller owns.
 *
 * <p>Run a vCPU from one thread at a time; {@link #kick()} is the one call meant for other threads.
 *
 * <pre>{@code
 * Vcpu vcpu = vm.createVcpu(0);
 * vcpu.setRegs(vcpu.getRegs().rip(0x1000).rflags(2));
 * VmExit exit = vcpu.run();
 * if (exit instanceof VmExit.IoOut out) {
 *     System.out.printf("port %x <- %x%n", out.port(), out.value());
 * }
 * }</pre>
 */
public final class Vcpu implements AutoCloseable {
    private static final int EINTR = 4;
    private static final int EAGAIN = 11;

    private final Vm vm;
    private final int id;
    private final OwnedFd fd;
    private final long runAddress;
    private final int runSize;
    private final RunPage run;

    private final int xsaveSize;
    /** Made on first use: a vCPU whose state only a context touches never needs them. */
    private Regs regs;
    private SRegs sregs;

    private final VmExit.IoOut ioOut;
    private final VmExit.IoIn ioIn;
    private final VmExit.MmioRead mmioRead;
    private final VmExit.MmioWrite mmioWrite;
    private final VmExit.Hlt hlt = new VmExit.Hlt();
    private final VmExit.Shutdown shutdown = new VmExit.Shutdown();
    private final VmExit.FailEntry failEntry;
    private final VmExit.InternalError internalError;
    private final VmExit.SystemEvent systemEvent;
    private final VmExit.Debug debug;
    private final VmExit.Interrupted interrupted = new VmExit.Interrupted();
    private final VmExit.GuestException exception;
    private final VmExit.Hypercall hypercall;
    private final VmExit.IrqWindowOpen irqWindowOpen = new VmExit.IrqWindowOpen();
    private final VmExit.Unknown unknown;

    /** Guards {@link #runningThread} against a kick signalling a thread that left KVM_RUN and died. */
    private final Object kickLock = new Object();
    private volatile long runningThread;
    /** Set under {@link #kickLock}, so a kick never writes into an unmapped kvm_run page. */
    private volatile boolean closed;

    Vcpu(Vm vm, int id, OwnedFd fd, int mmapSize, int xsaveSize) {
        this.xsaveSize = xsaveSize;
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        this.runSize = mmapSize;
        long address = LibC.map(mmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd.get());
        if (address == LibC.MAP_FAILED) {
            int errno = LibC.errno();
            fd.close();
            throw new KvmException("mmap(kvm_run)", errno);
        }
        this.runAddress = address;
        this.run = new RunPage(Memory.wrap(address, mmapSize));
        this.ioOut = new VmExit.IoOut(run);
        this.ioIn = new VmExit.IoIn(run);
        this.mmioRead = new VmExit.MmioRead(run);
        this.mmioWrite = new VmExit.MmioWrite(run);
        this.failEntry = new VmExit.FailEntry(run);
        this.internalError = new VmExit.InternalError(run);
        this.systemEvent = new VmExit.SystemEvent(run);
        this.debug = new VmExit.Debug(run);
        this.exception = new VmExit.GuestException(run);
        this.hypercall = new VmExit.Hypercall(run);
        this.unknown = new VmExit.Unknown(run);
    }

    /** The vCPU id given at creation. */
    public int id() {
        return id;
    }

    /** The VM it belongs to. */
    public Vm vm() {
        return vm;
    }

    /** The vCPU's file descriptor, for callers that issue their own ioctls. */
    public int fd() {
        return fd.get();
    }

    // ---- running ----

    /**
     * {@code KVM_RUN}: runs the guest until it exits, and returns why. The returned object is
     * reused by the next call (see {@link VmExit}).
     *
     * @return {@link VmExit.Interrupted} when {@link #kick()} or a signal stopped the run
     * @throws KvmException when KVM_RUN itself fails (for example EFAULT when guest memory vanished)
     */
    public VmExit run() {
        int vcpu = fd.get();
        runningThread = Shim.threadSelf();
        int rc = Shim.run(vcpu);
        synchronized (kickLock) {
            runningThread = 0;
        }
        if (rc < 0) {
            if (rc == -EINTR || rc == -EAGAIN) {
                run.page.put(RunPage.IMMEDIATE_EXIT, (byte) 0);
                return interrupted;
            }
            throw new KvmException("KVM_RUN", -rc, -rc == 14
                    ? "guest memory behind a slot is no longer mapped, or a slot points outside it" : null);
        }
        return decode(run.exitReason());
    }

    private VmExit decode(int reason) {
        if (reason == RunPage.EXIT_IO) {
            return run.page.get(RunPage.IO_DIRECTION) == RunPage.EXIT_IO_OUT ? ioOut : ioIn;
        } else if (reason == RunPage.EXIT_MMIO) {
            return run.page.get(RunPage.MMIO_IS_WRITE) != 0 ? mmioWrite : mmioRead;
        } else if (reason == RunPage.EXIT_HLT) {
            return hlt;
        } else if (reason == RunPage.EXIT_SHUTDOWN) {
            return shutdown;
        } else if (reason == RunPage.EXIT_FAIL_ENTRY) {
            return failEntry;
        } else if (reason == RunPage.EXIT_INTERNAL_ERROR) {
            return internalError;
        } else if (reason == RunPage.EXIT_SYSTEM_EVENT) {
            return systemEvent;
        } else if (reason == RunPage.EXIT_DEBUG) {
            return debug;
        } else if (reason == RunPage.EXIT_INTR) {
            return interrupted;
        } else if (reason == RunPage.EXIT_EXCEPTION) {
            return exception;
        } else if (reason == RunPage.EXIT_HYPERCALL) {
            return hypercall;
        } else if (reason == RunPage.EXIT_IRQ_WINDOW_OPEN) {
            return irqWindowOpen;
        }
        return unknown;
    }

    /**
     * Makes the current or next {@link #run()} return {@link VmExit.Interrupted} soon. Safe from
     * any thread: sets {@code immediate_exit} (for a run about to start) and signals the thread
     * inside KVM_RUN (for one in progress).
     */
    public void kick() {
        synchronized (kickLock) {
            if (closed) {
                return; // the kvm_run page is unmapped: nothing to stop
            }
            run.page.put(RunPage.IMMEDIATE_EXIT, (byte) 1);
            VarHandle.fullFence();
            if (runningThread != 0) {
                Kick.signal(runningThread);
            }
        }
    }

    /** Sets or clears {@code immediate_exit} directly (cleared again by the run it stops). */
    public void immediateExit(boolean value) {
        run.page.put(RunPage.IMMEDIATE_EXIT, (byte) (value ? 1 : 0));
    }

    /** Asks KVM to exit with {@link VmExit.IrqWindowOpen} as soon as the guest can take an interrupt. */
    public void requestInterruptWindow(boolean value) {
        run.page.put(RunPage.REQUEST_INTERRUPT_WINDOW, (byte) (value ? 1 : 0));
    }

    /** Whether the guest can take an injected interrupt now (valid after an exit). */
    public boolean readyForInterruptInjection() {
        return run.page.get(RunPage.READY_FOR_INTERRUPT) != 0;
    }

    /** The guest's RFLAGS.IF at the last exit. */
    public boolean interruptsEnabled() {
        return run.page.get(RunPage.IF_FLAG) != 0;
    }

    /** A read-only view of the whole mapped {@code kvm_run} region, for diagnostics. */
    public ByteBuffer runPage() {
        return run.page.asReadOnlyBuffer().order(run.page.order());
    }

    // ---- registers: per-vCPU structs for the hot path ----

    /** {@code KVM_GET_REGS} into this vCPU's own {@link Regs}, which it returns (reused by the next call). */
    public Regs getRegs() {
        if (regs == null) {
            regs = new Regs();
        }
        return getRegs(regs);
    }

    /** {@code KVM_GET_REGS} into {@code into}. */
    public Regs getRegs(Regs into) {
        KvmException.check(Shim.getRegs(fd.get(), into.address()), "KVM_GET_REGS");
        return into;
    }

    /** {@code KVM_SET_REGS} from {@code from}, in place. */
    public void setRegs(Regs from) {
        KvmException.check(Shim.setRegs(fd.get(), from.address()), "KVM_SET_REGS");
    }

    /** {@code KVM_GET_SREGS} into this vCPU's own {@link SRegs} (reused by the next call). */
    public SRegs getSregs() {
        if (sregs == null) {
            sregs = new SRegs();
        }
        return getSregs(sregs);
    }

    public SRegs getSregs(SRegs into) {
        KvmException.check(Shim.getSregs(fd.get(), into.address()), "KVM_GET_SREGS");
        return into;
    }

    public void setSregs(SRegs from) {
        KvmException.check(Shim.setSregs(fd.get(), from.address()), "KVM_SET_SREGS");
    }

    // ---- the rest of the architectural state ----

    public Fpu getFpu(Fpu into) {
        KvmException.check(Shim.getFpu(fd.get(), into.address()), "KVM_GET_FPU");
        return into;
    }

    public void setFpu(Fpu from) {
        KvmException.check(Shim.setFpu(fd.get(), from.address()), "KVM_SET_FPU");
    }

    /**
     * {@code KVM_GET_XSAVE2} when the area is larger than 4 KiB, else {@code KVM_GET_XSAVE}.
     *
     * @throws IllegalArgumentException if {@code into} is smaller than {@link Kvm#xsaveSize()}
     */
    public Xsave getXsave(Xsave into) {
        checkXsave(into);
        if (into.size() > Xsave.MIN_SIZE) {
            KvmException.check(Shim.getXsave2(fd.get(), into.address()), "KVM_GET_XSAVE2");
        } else {
            KvmException.check(Shim.getXsave(fd.get(), into.address()), "KVM_GET_XSAVE");
        }
        return into;
    }

    /** {@code KVM_SET_XSAVE}; {@code from} must be {@link Kvm#xsaveSize()} bytes or more. */
    public void setXsave(Xsave from) {
        checkXsave(from);
        KvmException.check(Shim.setXsave(fd.get(), from.address()), "KVM_SET_XSAVE");
    }

    /** The kernel copies its whole XSAVE size in and out: a smaller buffer would be overrun. */
    private void checkXsave(Xsave area) {
        if (area.size() < xsaveSize) {
            throw new IllegalArgumentException("this host's XSAVE area is " + xsaveSize + " bytes; an Xsave of "
                    + area.size() + " is too small (use new Xsave(kvm.xsaveSize()))");
        }
    }

    public Xcrs getXcrs(Xcrs into) {
        KvmException.check(Shim.getXcrs(fd.get(), into.address()), "KVM_GET_XCRS");
        return into;
    }

    public void setXcrs(Xcrs from) {
        KvmException.check(Shim.setXcrs(fd.get(), from.address()), "KVM_SET_XCRS");
    }

    /**
     * {@code KVM_GET_MSRS}: fills in the values of the first {@link Msrs#count()} entries.
     *
     * @return how many were read; KVM stops at the first MSR it cannot read
     */
    public int getMsrs(Msrs msrs) {
        return KvmException.check(Shim.getMsrs(fd.get(), msrs.address()), "KVM_GET_MSRS");
    }

    /**
     * {@code KVM_SET_MSRS}: writes the first {@link Msrs#count()} entries.
     *
     * @return how many were written; KVM stops at the first MSR it refuses
     */
    public int setMsrs(Msrs msrs) {
        return KvmException.check(Shim.setMsrs(fd.get(), msrs.address()), "KVM_SET_MSRS");
    }

    public Lapic getLapic(Lapic into) {
        KvmException.check(Shim.getLapic(fd.get(), into.address()), "KVM_GET_LAPIC");
        return into;
    }

    public void setLapic(Lapic from) {
        KvmException.check(Shim.setLapic(fd.get(), from.address()), "KVM_SET_LAPIC");
    }

    public MpState getMpState(MpState into) {
        KvmException.check(Shim.getMpState(fd.get(), into.address()), "KVM_GET_MP_STATE");
        return into;
    }

    public void setMpState(MpState from) {
        KvmException.check(Shim.setMpState(fd.get(), from.address()), "KVM_SET_MP_STATE");
    }

    public VcpuEvents getVcpuEvents(VcpuEvents into) {
        KvmException.check(Shim.getVcpuEvents(fd.get(), into.address()), "KVM_GET_VCPU_EVENTS");
        return into;
    }

    public void setVcpuEvents(VcpuEvents from) {
        KvmException.check(Shim.setVcpuEvents(fd.get(), from.address()), "KVM_SET_VCPU_EVENTS");
    }

    public DebugRegs getDebugRegs(DebugRegs into) {
        KvmException.check(Shim.getDebugRegs(fd.get(), into.address()), "KVM_GET_DEBUGREGS");
        return into;
    }

    public void setDebugRegs(DebugRegs from) {
        KvmException.check(Shim.setDebugRegs(fd.get(), from.address()), "KVM_SET_DEBUGREGS");
    }

    /** {@code KVM_GET_CPUID2}: what this vCPU was told by {@link #setCpuid(Cpuid)}. */
    public Cpuid getCpuid(Cpuid into) {
        into.count(into.capacity());
        KvmException.check(Shim.getCpuid2(fd.get(), into.address()), "KVM_GET_CPUID2");
        return into;
    }

    /** {@code KVM_SET_CPUID2}: the CPUID the guest sees (typically {@link Kvm#supportedCpuid()}). */
    public void setCpuid(Cpuid cpuid) {
        KvmException.check(Shim.setCpuid2(fd.get(), cpuid.address()), "KVM_SET_CPUID2");
    }

    /** {@code KVM_SET_GUEST_DEBUG}. */
    public void setGuestDebug(GuestDebug control) {
        KvmException.check(Shim.setGuestDebug(fd.get(), control.address()), "KVM_SET_GUEST_DEBUG");
    }

    /** Turns single-stepping on (each {@link #run()} returns {@link VmExit.Debug} after one instruction) or off. */
    public void singleStep(boolean enabled) {
        setGuestDebug(new GuestDebug().control(enabled ? GuestDebug.ENABLE | GuestDebug.SINGLESTEP : 0));
    }

    /** {@code KVM_GET_TSC_KHZ}: the guest's TSC frequency. */
    public int tscKhz() {
        return KvmException.check(Shim.getTscKhz(fd.get()), "KVM_GET_TSC_KHZ");
    }

    /** {@code KVM_SET_TSC_KHZ} (needs {@link Capability#TSC_CONTROL} for a frequency other than the host's). */
    public void setTscKhz(int khz) {
        KvmException.check(Shim.setTscKhz(fd.get(), khz), "KVM_SET_TSC_KHZ");
    }

    /** {@code KVM_TRANSLATE}: the guest-physical address of a guest-virtual one, under the current page tables. */
    public Translation translate(long linearAddress) {
        TranslationBuffer.Holder t = TranslationBuffer.get();
        t.linearAddress(linearAddress);
        KvmException.check(Shim.translate(fd.get(), t.address()), "KVM_TRANSLATE");
        return t.result();
    }

    /** {@code KVM_NMI}: queues an NMI (with an in-kernel LAPIC). */
    public void injectNmi() {
        KvmException.check(Shim.nmi(fd.get()), "KVM_NMI");
    }

    /** {@code KVM_INTERRUPT}: queues an external interrupt vector (without an in-kernel irqchip). */
    public void injectInterrupt(int vector) {
        KvmException.check(Shim.interrupt(fd.get(), vector), "KVM_INTERRUPT");
    }

    // ---- lifetime ----

    public boolean isClosed() {
        return closed;
    }

    /** Unmaps the {@code kvm_run} page and closes the vCPU fd. Do not call while another thread is inside {@link #run()}. */
    @Override
    public void close() {
        synchronized (kickLock) {
            if (closed) {
                return;
            }
            closed = true;
            fd.close();
            LibC.INSTANCE.munmap(runAddress, runSize);
        }
    }

    @Override
    public String toString() {
        return "Vcpu[" + id + ", " + fd + "]";
    }
}
