package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.LibC;
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
import dev.kvmctl.state.KvmStruct;
import java.lang.invoke.VarHandle;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;

/**
 * A virtual CPU: runs guest code with {@link #run()} and exposes every part of its architectural
 * state. Its {@code kvm_run} page is mapped once; exits and their data are read from it in place.
 *
 * <h2 id="shared-or-copy">Shared objects and copies: one naming rule</h2>
 *
 * <p>Only two kinds of call return an object that kvmctl <em>shares and reuses</em>: methods named
 * {@code xView()} ({@link #regsView()}, {@link #sregsView()}) and {@link #run()} (its
 * {@link VmExit}). Each call refreshes the object this vCPU owns and returns it; the next call of
 * the same kind overwrites it (an exit is valid until the next {@code run()}). They allocate
 * nothing: they are the zero-allocation hot path. Two views taken before and after a change are
 * the same object, so compare copies instead.
 *
 * <p>Every other call returns an object no later call changes:
 * <ul>
 *   <li>{@code getX()}, with no argument, returns a <em>new</em> object the caller owns
 *       ({@link #getRegs()}, {@link #getSregs()}, {@link Kvm#supportedCpuid()}; so do
 *       {@link #translate(long)} and {@link Vm#read(long, int)}). It allocates.</li>
 *   <li>{@code getX(X into)} fills the caller's object and returns it, allocating nothing
 *       ({@link #getRegs(Regs)}, {@link #getFpu(Fpu)}, {@link Vm#getIrqchip(dev.kvmctl.state.Irqchip)}
 *       and the get of every struct of {@link dev.kvmctl.state}).</li>
 * </ul>
 * {@link #setRegs(Regs)} and the other setters accept any of them. Buffers over memory the guest
 * or kernel writes ({@link #runPage()}, {@link GuestMemory#slice(long, int)},
 * {@link VmExit.Io#data()}) are live windows on that memory, not state copies: they show its
 * current contents.
 *
 * <p>Run a vCPU from one thread at a time; {@link #kick()} is the one call meant for other threads.
 *
 * <p><b>After close.</b> A closed vCPU refuses every call with {@link IllegalStateException}
 * except {@link #close()} (idempotent), {@link #isClosed()}, {@code toString()} and {@link #kick()}
 * (a no-op: there is no run left to stop, so a watchdog racing with the close needs no catch).
 * The {@link VmExit} objects it returned refuse too. Closing is safe from any thread at any time:
 * it marks the vCPU closed, stops a {@link #run()} in progress on another thread (which then
 * throws {@link IllegalStateException}) and waits until no call on the vCPU is in flight, so once
 * {@code close()} returns nothing is inside {@code KVM_RUN} and the guest's memory can go. Then the
 * {@code kvm_run} mapping is swapped for a zero page instead of being unmapped: a reader that
 * passed its closed check just before (a race no flag can close) reads zeros, never an unmapped
 * address, and the real mapping, which holds the kernel's vCPU and VM, is released at once. The
 * zero page is unmapped once the exits and every {@link #runPage()} view are unreachable.
 *
 * <p>The structs ({@link Regs}, {@link SRegs} and the rest of {@code dev.kvmctl.state}) are the
 * caller's own memory, not views of the vCPU: one kept past the close keeps the values last read
 * into it and stays fully usable.
 *
 * <pre>{@code
 * Vcpu vcpu = vm.createVcpu(0);
 * vcpu.setRegs(vcpu.regsView().rip(0x1000).rflags(2));
 * VmExit exit = vcpu.run();
 * if (exit instanceof VmExit.IoOut out) {
 *     System.out.printf("port %x <- %x%n", out.port(), out.value());
 * }
 * }</pre>
 */
public final class Vcpu implements AutoCloseable {
    private final Vm vm;
    private final int id;
    private final OwnedFd fd;
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
    private final VmExit.SetTpr setTpr = new VmExit.SetTpr();
    private final VmExit.TprAccess tprAccess;
    private final VmExit.Nmi nmi = new VmExit.Nmi();
    private final VmExit.IoapicEoi ioapicEoi;
    private final VmExit.Hyperv hyperv;
    private final VmExit.MsrRead msrRead;
    private final VmExit.MsrWrite msrWrite;
    private final VmExit.DirtyRingFull dirtyRingFull = new VmExit.DirtyRingFull();
    private final VmExit.ApResetHold apResetHold = new VmExit.ApResetHold();
    private final VmExit.BusLock busLock = new VmExit.BusLock();
    private final VmExit.Xen xen;
    private final VmExit.Notify notify;
    private final VmExit.OtherArchitecture otherArchitecture;
    /** Mapped on first use; closed with the vCPU. */
    private DirtyRing dirtyRing;

    /** Guards {@link #runningThread} against a kick signalling a thread that left KVM_RUN and died. */
    private final Object kickLock = new Object();
    private volatile long runningThread;
    /** Set under {@link #kickLock}, so a kick never writes into a kvm_run page that is going away. */
    private volatile boolean closed;

    Vcpu(Vm vm, int id, OwnedFd fd, int mmapSize, int xsaveSize) {
        this.xsaveSize = xsaveSize;
        this.vm = vm;
        this.id = id;
        this.fd = fd;
        long address = LibC.map(mmapSize, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd.get());
        if (address == LibC.MAP_FAILED) {
            int errno = LibC.errno();
            fd.close();
            throw new KvmException("mmap(kvm_run)", errno);
        }
        this.run = new RunPage(address, mmapSize, "vCPU " + id);
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
        this.tprAccess = new VmExit.TprAccess(run);
        this.ioapicEoi = new VmExit.IoapicEoi(run);
        this.hyperv = new VmExit.Hyperv(run);
        this.msrRead = new VmExit.MsrRead(run);
        this.msrWrite = new VmExit.MsrWrite(run);
        this.xen = new VmExit.Xen(run);
        this.notify = new VmExit.Notify(run);
        this.otherArchitecture = new VmExit.OtherArchitecture(run);
    }

    /**
     * {@return the vCPU id given at creation, also its initial APIC id}
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public int id() {
        ensureOpen();
        return id;
    }

    /**
     * {@return the VM it belongs to}
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public Vm vm() {
        ensureOpen();
        return vm;
    }

    /**
     * The vCPU's file descriptor, for callers that issue their own ioctls. The number is the
     * caller's to guard: after {@link #close()} it may name another file.
     *
     * @return the descriptor, owned by this vCPU (do not close it)
     * @throws IllegalStateException if this vCPU is closed
     */
    public int fd() {
        return fd.get();
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("vCPU " + id + " is closed");
        }
    }

    // ---- running ----

    /**
     * {@code KVM_RUN}: runs the guest until it exits, and returns why. The returned object is
     * reused by the next call (see {@link VmExit}).
     *
     * @return {@link VmExit.Interrupted} when {@link #kick()} or a signal stopped the run
     * @throws KvmException when KVM_RUN itself fails (for example EFAULT when guest memory vanished)
     * @throws IllegalStateException when the vCPU is closed, or was closed by another thread while it ran
     */
    public VmExit run() {
        int vcpu = fd.acquire(); // held across the decode: close() waits for it before the page goes
        try {
            runningThread = Shim.threadSelf();
            int rc = Shim.run(vcpu);
            synchronized (kickLock) {
                runningThread = 0;
            }
            if (closed) {
                throw new IllegalStateException("vCPU " + id + " was closed while it ran");
            }
            if (rc < 0) {
                if (rc == -LibC.EINTR || rc == -LibC.EAGAIN) {
                    run.put(RunPage.IMMEDIATE_EXIT, (byte) 0);
                    return interrupted;
                }
                throw new KvmException("KVM_RUN", -rc, -rc == LibC.EFAULT
                        ? "guest memory behind a slot is no longer mapped, or a slot points outside it" : null);
            }
            return decode(run.exitReason());
        } finally {
            fd.release();
            if (closed) {
                synchronized (kickLock) {
                    kickLock.notifyAll(); // a close() waiting for this call to end
                }
            }
        }
    }

    /** The exit object for {@code reason}; package-private for ExitDecodeTest. */
    VmExit decode(int reason) {
        if (reason == RunPage.EXIT_IO) {
            return run.get(RunPage.IO_DIRECTION) == RunPage.EXIT_IO_OUT ? ioOut : ioIn;
        } else if (reason == RunPage.EXIT_MMIO) {
            return run.get(RunPage.MMIO_IS_WRITE) != 0 ? mmioWrite : mmioRead;
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
        } else if (reason == RunPage.EXIT_X86_RDMSR) {
            return msrRead;
        } else if (reason == RunPage.EXIT_X86_WRMSR) {
            return msrWrite;
        } else if (reason == RunPage.EXIT_DIRTY_RING_FULL) {
            return dirtyRingFull;
        } else if (reason == RunPage.EXIT_IOAPIC_EOI) {
            return ioapicEoi;
        } else if (reason == RunPage.EXIT_SET_TPR) {
            return setTpr;
        } else if (reason == RunPage.EXIT_TPR_ACCESS) {
            return tprAccess;
        } else if (reason == RunPage.EXIT_NMI) {
            return nmi;
        } else if (reason == RunPage.EXIT_HYPERV) {
            return hyperv;
        } else if (reason == RunPage.EXIT_AP_RESET_HOLD) {
            return apResetHold;
        } else if (reason == RunPage.EXIT_X86_BUS_LOCK) {
            return busLock;
        } else if (reason == RunPage.EXIT_XEN) {
            return xen;
        } else if (reason == RunPage.EXIT_NOTIFY) {
            return notify;
        } else if (RunPage.isOtherArchitecture(reason)) {
            return otherArchitecture.reason(reason);
        }
        return unknown.reason(reason);
    }

    /**
     * Makes the current or next {@link #run()} return {@link VmExit.Interrupted} soon. Safe from
     * any thread: sets {@code immediate_exit} (for a run about to start) and signals the thread
     * inside KVM_RUN (for one in progress). A no-op once the vCPU is closed.
     */
    public void kick() {
        synchronized (kickLock) {
            if (closed) {
                return; // no run can start any more, and close() stops the one in progress
            }
            stopRun();
        }
    }

    /** Under {@link #kickLock}, so the thread signalled is still inside {@link #run()}. */
    private void stopRun() {
        run.put(RunPage.IMMEDIATE_EXIT, (byte) 1);
        VarHandle.fullFence();
        if (runningThread != 0) {
            Kick.signal(runningThread);
        }
    }

    /**
     * Sets or clears {@code immediate_exit} in the {@code kvm_run} page directly; {@link #kick()}
     * is the usual way to set it. The run it stops clears it again.
     *
     * @param value true: the next {@link #run()} returns {@link VmExit.Interrupted} at once,
     *     without entering the guest (but completing an I/O or MMIO exit it was given)
     * @throws IllegalStateException if this vCPU is closed
     */
    public void immediateExit(boolean value) {
        ensureOpen();
        run.put(RunPage.IMMEDIATE_EXIT, (byte) (value ? 1 : 0));
    }

    /**
     * Asks KVM to exit with {@link VmExit.IrqWindowOpen} as soon as the guest can take an
     * interrupt, for injecting one with {@link #injectInterrupt} without an in-kernel irqchip.
     * Sets {@code request_interrupt_window} in the {@code kvm_run} page.
     *
     * @param value true to ask, false to stop asking
     * @throws IllegalStateException if this vCPU is closed
     */
    public void requestInterruptWindow(boolean value) {
        ensureOpen();
        run.put(RunPage.REQUEST_INTERRUPT_WINDOW, (byte) (value ? 1 : 0));
    }

    /**
     * {@return whether the guest can take an injected interrupt now: {@code kvm_run}'s
     * {@code ready_for_interrupt_injection}, valid after an exit}
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public boolean readyForInterruptInjection() {
        ensureOpen();
        return run.get(RunPage.READY_FOR_INTERRUPT) != 0;
    }

    /**
     * {@return the guest's RFLAGS.IF (interrupts enabled) at the last exit}
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public boolean interruptsEnabled() {
        ensureOpen();
        return run.get(RunPage.IF_FLAG) != 0;
    }

    /**
     * A read-only view of the whole mapped {@code kvm_run} region, for diagnostics. A view kept
     * past {@link #close()} reads zeros (it keeps a zero page mapped until it is unreachable).
     *
     * @return a new little-endian view of {@link Kvm#vcpuMmapSize()} bytes
     * @throws IllegalStateException if this vCPU is closed
     */
    public ByteBuffer runPage() {
        ensureOpen();
        return run.readOnlyView();
    }

    // ---- registers: fresh copies, caller's structs, and the per-vCPU views of the hot path ----

    /**
     * Reads the general-purpose registers into a new {@link Regs} the caller owns. Issues
     * {@code KVM_GET_REGS}; allocates one struct (the hot path uses {@link #regsView()} or
     * {@link #getRegs(Regs)}).
     *
     * @return a new struct, which no later call changes
     * @throws IllegalStateException if this vCPU is closed
     */
    public Regs getRegs() {
        return getRegs(new Regs());
    }

    /**
     * Reads the general-purpose registers into this vCPU's own {@link Regs} and returns it: a
     * <em>shared</em> struct (see the class comment). Issues {@code KVM_GET_REGS}; allocates
     * nothing after the first call.
     *
     * @return this vCPU's own struct, refreshed; the next {@code regsView()} overwrites it, so
     *     copy what must outlive that ({@link #getRegs()})
     * @throws IllegalStateException if this vCPU is closed
     */
    public Regs regsView() {
        if (regs == null) {
            regs = new Regs();
        }
        return getRegs(regs);
    }

    /**
     * Reads the general-purpose registers. Issues {@code KVM_GET_REGS}.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public Regs getRegs(Regs into) {
        struct(Ioctl.GET_REGS, into);
        return into;
    }

    /**
     * Writes the general-purpose registers, straight from {@code from}'s buffer. Issues
     * {@code KVM_SET_REGS}; this discards an exception KVM had pending for the guest.
     *
     * @param from the registers, such as {@link #regsView()} or {@link #getRegs()} returned and
     *     the caller changed
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setRegs(Regs from) {
        struct(Ioctl.SET_REGS, from);
    }

    /**
     * Reads the special registers into a new {@link SRegs} the caller owns. Issues
     * {@code KVM_GET_SREGS}; allocates one struct (the hot path uses {@link #sregsView()} or
     * {@link #getSregs(SRegs)}).
     *
     * @return a new struct, which no later call changes
     * @throws IllegalStateException if this vCPU is closed
     */
    public SRegs getSregs() {
        return getSregs(new SRegs());
    }

    /**
     * Reads the special registers into this vCPU's own {@link SRegs} and returns it: a
     * <em>shared</em> struct (see the class comment). Issues {@code KVM_GET_SREGS}; allocates
     * nothing after the first call.
     *
     * @return this vCPU's own struct, refreshed; the next {@code sregsView()} overwrites it
     * @throws IllegalStateException if this vCPU is closed
     */
    public SRegs sregsView() {
        if (sregs == null) {
            sregs = new SRegs();
        }
        return getSregs(sregs);
    }

    /**
     * Reads the special registers: segments, descriptor tables, control registers, EFER, the APIC
     * base. Issues {@code KVM_GET_SREGS}.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public SRegs getSregs(SRegs into) {
        struct(Ioctl.GET_SREGS, into);
        return into;
    }

    /**
     * Writes the special registers. Issues {@code KVM_SET_SREGS}.
     *
     * @param from the registers, such as {@link #sregsView()} or {@link #getSregs()} returned and
     *     the caller changed
     * @throws KvmException {@code EINVAL} for a state the CPU cannot hold (for example paging
     *     without protected mode, or long-mode paging without PAE)
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setSregs(SRegs from) {
        struct(Ioctl.SET_SREGS, from);
    }

    // ---- the rest of the architectural state ----

    /**
     * Reads the legacy x87 and SSE state; {@link #getXsave} reads it and every extended state.
     * Issues {@code KVM_GET_FPU}.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public Fpu getFpu(Fpu into) {
        struct(Ioctl.GET_FPU, into);
        return into;
    }

    /**
     * Writes the legacy x87 and SSE state. Issues {@code KVM_SET_FPU}.
     *
     * @param from the state
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setFpu(Fpu from) {
        struct(Ioctl.SET_FPU, from);
    }

    /**
     * Reads the XSAVE area: x87, SSE, AVX and every other extended state the host supports.
     * Issues {@code KVM_GET_XSAVE2} when the area is larger than 4 KiB, else {@code KVM_GET_XSAVE}.
     *
     * @param into an area of at least {@link Kvm#xsaveSize()} bytes
     * @return {@code into}
     * @throws IllegalArgumentException if {@code into} is smaller than {@link Kvm#xsaveSize()}
     * @throws IllegalStateException if this vCPU is closed
     */
    public Xsave getXsave(Xsave into) {
        ensureOpen();
        checkXsave(into);
        if (into.size() > Xsave.MIN_SIZE) {
            struct(Ioctl.GET_XSAVE2, into);
        } else {
            struct(Ioctl.GET_XSAVE, into);
        }
        return into;
    }

    /**
     * Writes the XSAVE area. Issues {@code KVM_SET_XSAVE}. Set the CPUID first
     * ({@link #setCpuid}): without it KVM drops the AVX state, silently.
     *
     * @param from an area of at least {@link Kvm#xsaveSize()} bytes, as {@link #getXsave} filled it
     * @throws IllegalArgumentException if {@code from} is smaller than {@link Kvm#xsaveSize()}
     * @throws KvmException {@code EINVAL} for an area whose header claims state components this
     *     vCPU does not have
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setXsave(Xsave from) {
        ensureOpen();
        checkXsave(from);
        struct(Ioctl.SET_XSAVE, from);
    }

    /** The kernel copies its whole XSAVE size in and out: a smaller buffer would be overrun. */
    private void checkXsave(Xsave area) {
        if (area.size() < xsaveSize) {
            throw new IllegalArgumentException("this host's XSAVE area is " + xsaveSize + " bytes; an Xsave of "
                    + area.size() + " is too small (use new Xsave(kvm.xsaveSize()))");
        }
    }

    /**
     * Reads the extended control registers (XCR0). Issues {@code KVM_GET_XCRS}; needs
     * {@link Capability#XCRS}.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public Xcrs getXcrs(Xcrs into) {
        struct(Ioctl.GET_XCRS, into);
        return into;
    }

    /**
     * Writes the extended control registers. Issues {@code KVM_SET_XCRS}.
     *
     * @param from the registers
     * @throws KvmException {@code EINVAL} for an XCR0 the vCPU's CPUID does not allow (x87 must
     *     stay enabled)
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setXcrs(Xcrs from) {
        struct(Ioctl.SET_XCRS, from);
    }

    /**
     * Reads model-specific registers. Issues {@code KVM_GET_MSRS}: fills in the values of the
     * first {@link Msrs#count()} entries.
     *
     * @param msrs the list, whose indices say which MSRs; the values are written in place
     * @return how many were read; KVM stops at the first MSR it cannot read
     * @throws IllegalStateException if this vCPU is closed
     */
    public int getMsrs(Msrs msrs) {
        return struct(Ioctl.GET_MSRS, msrs);
    }

    /**
     * Writes model-specific registers. Issues {@code KVM_SET_MSRS}: writes the first
     * {@link Msrs#count()} entries.
     *
     * @param msrs the indices and values to write
     * @return how many were written; KVM stops at the first MSR it refuses
     * @throws KvmException {@code E2BIG} for 256 entries or more
     * @throws IllegalStateException if this vCPU is closed
     */
    public int setMsrs(Msrs msrs) {
        return struct(Ioctl.SET_MSRS, msrs);
    }

    /**
     * Reads the in-kernel local APIC's register page. Issues {@code KVM_GET_LAPIC}.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws KvmException {@code EINVAL} without an in-kernel irqchip
     * @throws IllegalStateException if this vCPU is closed
     */
    public Lapic getLapic(Lapic into) {
        struct(Ioctl.GET_LAPIC, into);
        return into;
    }

    /**
     * Writes the in-kernel local APIC's register page. Issues {@code KVM_SET_LAPIC}.
     *
     * @param from the registers
     * @throws KvmException {@code EINVAL} without an in-kernel irqchip
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setLapic(Lapic from) {
        struct(Ioctl.SET_LAPIC, from);
    }

    /**
     * Reads the multiprocessing state (runnable, halted, waiting for INIT or SIPI). Issues
     * {@code KVM_GET_MP_STATE}, which may first act on a pending INIT or SIPI.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public MpState getMpState(MpState into) {
        struct(Ioctl.GET_MP_STATE, into);
        return into;
    }

    /**
     * Writes the multiprocessing state. Issues {@code KVM_SET_MP_STATE}.
     *
     * @param from the state
     * @throws KvmException {@code EINVAL} for any state but {@link MpState#RUNNABLE} without an
     *     in-kernel irqchip
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setMpState(MpState from) {
        struct(Ioctl.SET_MP_STATE, from);
    }

    /**
     * Reads the pending and injected exceptions, interrupts, NMIs and SMIs. Issues
     * {@code KVM_GET_VCPU_EVENTS}.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public VcpuEvents getVcpuEvents(VcpuEvents into) {
        struct(Ioctl.GET_VCPU_EVENTS, into);
        return into;
    }

    /**
     * Writes the pending and injected events; only the parts its
     * {@link VcpuEvents#flags()} mark valid are applied. Issues {@code KVM_SET_VCPU_EVENTS}.
     *
     * @param from the events
     * @throws KvmException {@code EINVAL} for flags or values KVM does not accept
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setVcpuEvents(VcpuEvents from) {
        struct(Ioctl.SET_VCPU_EVENTS, from);
    }

    /**
     * Reads the debug registers DR0 to DR3, DR6 and DR7. Issues {@code KVM_GET_DEBUGREGS}.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public DebugRegs getDebugRegs(DebugRegs into) {
        struct(Ioctl.GET_DEBUGREGS, into);
        return into;
    }

    /**
     * Writes the debug registers. Issues {@code KVM_SET_DEBUGREGS}.
     *
     * @param from the registers
     * @throws KvmException {@code EINVAL} for reserved bits set in DR6 or DR7
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setDebugRegs(DebugRegs from) {
        struct(Ioctl.SET_DEBUGREGS, from);
    }

    /**
     * Reads the CPUID table this vCPU was given by {@link #setCpuid(Cpuid)} (KVM may add bits of
     * its own). Issues {@code KVM_GET_CPUID2}.
     *
     * @param into the table to fill; its count is set to its capacity first, then to the entries
     *     read
     * @return {@code into}
     * @throws KvmException {@code E2BIG} if {@code into} has room for fewer entries than the vCPU's
     *     table
     * @throws IllegalStateException if this vCPU is closed
     */
    public Cpuid getCpuid(Cpuid into) {
        ensureOpen();
        into.count(into.capacity());
        struct(Ioctl.GET_CPUID2, into);
        return into;
    }

    /**
     * Sets the CPUID the guest sees, typically {@link Kvm#supportedCpuid()}. Issues
     * {@code KVM_SET_CPUID2}. Set it before the XSAVE area, XCRs and MSRs: KVM checks them against it.
     *
     * @param cpuid the table; its first {@link Cpuid#count()} entries are used
     * @throws KvmException {@code E2BIG} for more entries than KVM takes; {@code EINVAL} for a
     *     table that differs from the current one once the vCPU has run
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setCpuid(Cpuid cpuid) {
        struct(Ioctl.SET_CPUID2, cpuid);
    }

    /**
     * Sets the guest-debugging controls: single-stepping and breakpoints, reported as
     * {@link VmExit.Debug}. Issues {@code KVM_SET_GUEST_DEBUG}.
     *
     * @param control the controls; a control of 0 turns debugging off
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setGuestDebug(GuestDebug control) {
        struct(Ioctl.SET_GUEST_DEBUG, control);
    }

    /**
     * Turns single-stepping on (each {@link #run()} returns {@link VmExit.Debug} after one
     * instruction) or off. Issues {@code KVM_SET_GUEST_DEBUG}, replacing any breakpoints set.
     *
     * @param enabled true to single-step, false to run freely
     * @throws IllegalStateException if this vCPU is closed
     */
    public void singleStep(boolean enabled) {
        ensureOpen();
        setGuestDebug(new GuestDebug().control(enabled ? GuestDebug.ENABLE | GuestDebug.SINGLESTEP : 0));
    }

    /**
     * {@return the guest's TSC frequency in kHz} Issues {@code KVM_GET_TSC_KHZ}.
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public int tscKhz() {
        return KvmException.check(fd.call(Ioctl.GET_TSC_KHZ, 0), "KVM_GET_TSC_KHZ");
    }

    /**
     * Sets the guest's TSC frequency. Issues {@code KVM_SET_TSC_KHZ}.
     *
     * @param khz the frequency in kHz; one other than the host's needs
     *     {@link Capability#TSC_CONTROL}
     * @throws KvmException {@code EINVAL} for a frequency KVM cannot give this guest
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setTscKhz(int khz) {
        KvmException.check(fd.call((vcpu, k) -> Shim.setTscKhz(vcpu, (int) k), khz), "KVM_SET_TSC_KHZ");
    }

    /**
     * Translates a guest-virtual address under the vCPU's current page tables (an identity map
     * while paging is off). Issues {@code KVM_TRANSLATE}.
     *
     * @param linearAddress the guest-virtual (linear) address
     * @return a new result; {@link Translation#valid()} is false when the address is not mapped
     * @throws IllegalStateException if this vCPU is closed
     */
    public Translation translate(long linearAddress) {
        TranslationBuffer.Holder t = TranslationBuffer.get();
        t.linearAddress(linearAddress);
        applyDirtySyncedRegs(); // the paging mode and CR3 may be among the pending special registers
        KvmException.check(fd.call(Ioctl.TRANSLATE, t.address()), "KVM_TRANSLATE"); // t is this thread's: reachable
        return t.result();
    }

    /**
     * Queues a non-maskable interrupt, delivered at the next entry the guest can take it. Issues
     * {@code KVM_NMI}.
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public void injectNmi() {
        applyDirtySyncedRegs(); // pending events would otherwise replace the NMI at the next entry
        KvmException.check(fd.call(Ioctl.NMI, 0), "KVM_NMI");
    }

    /**
     * Queues an external interrupt, for a VM without an in-kernel irqchip; inject it when
     * {@link #readyForInterruptInjection()} says the guest can take it. Issues {@code KVM_INTERRUPT}.
     *
     * @param vector the interrupt vector, 0 to 255
     * @throws KvmException {@code EINVAL} for a vector above 255; {@code ENXIO} with an in-kernel
     *     irqchip (raise its lines with {@link Vm#irqLine} instead)
     * @throws IllegalStateException if this vCPU is closed
     */
    public void injectInterrupt(int vector) {
        applyDirtySyncedRegs(); // pending events would otherwise replace the interrupt at the next entry
        KvmException.check(fd.call((vcpu, v) -> Shim.interrupt(vcpu, (int) v), vector), "KVM_INTERRUPT");
    }

    // ---- issue 9: capabilities, device attributes, SMI, kvmclock, nested state, stats, rings ----

    /**
     * Turns on a capability for this vCPU (such as {@code KVM_CAP_HYPERV_SYNIC}). Issues
     * {@code KVM_ENABLE_CAP} on the vCPU descriptor.
     *
     * @param cap the capability number, from the kernel headers
     * @param arg0 {@code args[0]}; its meaning depends on {@code cap}
     * @param arg1 {@code args[1]}; the other words are 0
     * @throws KvmException {@code EINVAL} if the capability cannot be enabled on a vCPU, or not now,
     *     or with these arguments
     * @throws IllegalStateException if this vCPU is closed
     */
    public void enableCap(int cap, long arg0, long arg1) {
        int vcpu = fd.acquire();
        try {
            KvmException.check(Shim.enableCap(vcpu, cap, arg0, arg1), "KVM_ENABLE_CAP(" + cap + ")");
        } finally {
            fd.release();
        }
    }

    /**
     * Asks whether the vCPU has a device attribute (such as {@code KVM_VCPU_TSC_CTRL} /
     * {@code KVM_VCPU_TSC_OFFSET}). Issues {@code KVM_HAS_DEVICE_ATTR} on the vCPU descriptor.
     *
     * @param group the attribute group
     * @param attr the attribute within the group
     * @return true if it has; false when the kernel answers {@code ENXIO}
     * @throws KvmException for any other error
     * @throws IllegalStateException if this vCPU is closed
     */
    public boolean hasDeviceAttribute(int group, long attr) {
        return DeviceAttributes.has(fd, group, attr);
    }

    /**
     * Reads a 64-bit vCPU attribute. Issues {@code KVM_GET_DEVICE_ATTR} on the vCPU descriptor.
     *
     * @param group the attribute group
     * @param attr the attribute within the group
     * @return the value
     * @throws KvmException {@code ENXIO} for an attribute the vCPU lacks
     * @throws IllegalStateException if this vCPU is closed
     */
    public long getDeviceAttribute(int group, long attr) {
        return DeviceAttributes.get(fd, group, attr);
    }

    /**
     * Writes a 64-bit vCPU attribute. Issues {@code KVM_SET_DEVICE_ATTR} on the vCPU descriptor.
     *
     * @param group the attribute group
     * @param attr the attribute within the group
     * @param value the value
     * @throws KvmException {@code ENXIO} for an attribute the vCPU lacks, {@code EINVAL} for a value
     *     it refuses
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setDeviceAttribute(int group, long attr, long value) {
        ensureOpen();
        DeviceAttributes.set(fd, group, attr, value);
    }

    /**
     * Tells the guest's kvmclock that the VM was paused, so its watchdog does not report a soft
     * lockup. Issues {@code KVM_KVMCLOCK_CTRL}.
     *
     * @throws KvmException {@code EINVAL} when the guest has not enabled kvmclock
     * @throws IllegalStateException if this vCPU is closed
     */
    public void kvmclockCtrl() {
        KvmException.check(fd.call(Ioctl.KVMCLOCK_CTRL, 0), "KVM_KVMCLOCK_CTRL");
    }

    /**
     * Queues a system management interrupt. Issues {@code KVM_SMI}.
     *
     * @throws KvmException {@code ENOTTY} when this KVM has no SMM ({@code KVM_CAP_X86_SMM} 0)
     * @throws IllegalStateException if this vCPU is closed
     */
    public void injectSmi() {
        applyDirtySyncedRegs(); // pending events would otherwise replace the SMI at the next entry
        KvmException.check(fd.call(Ioctl.SMI, 0), "KVM_SMI");
    }

    private static final int NESTED_SIZE = dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_nested_state", "size");

    /**
     * Reads the nested virtualization state (a guest hypervisor's VMCS/VMCB and its mode). Issues
     * {@code KVM_GET_NESTED_STATE}.
     *
     * @param into a direct buffer of at least the size {@code KVM_CAP_NESTED_STATE} answers; its
     *     header's {@code size} is set to the buffer's capacity first
     * @return the bytes the state takes ({@code struct kvm_nested_state}'s {@code size})
     * @throws IllegalArgumentException if {@code into} is not direct or smaller than the header
     * @throws KvmException {@code E2BIG} when {@code into} is too small, {@code EINVAL} when this
     *     KVM has no nested virtualization
     * @throws IllegalStateException if this vCPU is closed
     */
    public int getNestedState(ByteBuffer into) {
        ensureOpen();
        nestedBuffer(into).putInt(NESTED_SIZE, into.capacity());
        nested(into, true);
        return into.getInt(NESTED_SIZE);
    }

    /**
     * Writes the nested virtualization state. Issues {@code KVM_SET_NESTED_STATE}.
     *
     * @param from a direct buffer holding a {@code struct kvm_nested_state}, as
     *     {@link #getNestedState} filled it
     * @throws IllegalArgumentException if {@code from} is not direct or smaller than the header
     * @throws KvmException {@code EINVAL} for a state the kernel refuses or without nested
     *     virtualization
     * @throws IllegalStateException if this vCPU is closed
     */
    public void setNestedState(ByteBuffer from) {
        ensureOpen();
        nested(nestedBuffer(from), false);
    }

    private static ByteBuffer nestedBuffer(ByteBuffer b) {
        int header = dev.kvmctl.internal.bridge.Layout.sizeOf("kvm_nested_state");
        if (!b.isDirect() || b.capacity() < header) {
            throw new IllegalArgumentException("nested state needs a direct buffer of at least " + header + " bytes, not " + b);
        }
        return b.order(java.nio.ByteOrder.LITTLE_ENDIAN);
    }

    private void nested(ByteBuffer b, boolean get) {
        applyDirtySyncedRegs();
        try {
            KvmException.check(fd.call(get ? Ioctl.GET_NESTED_STATE : Ioctl.SET_NESTED_STATE,
                    dev.kvmctl.internal.bridge.Memory.addressOf(b)), get ? "KVM_GET_NESTED_STATE" : "KVM_SET_NESTED_STATE");
        } finally {
            Reference.reachabilityFence(b);
        }
    }

    /**
     * Opens this vCPU's binary statistics. Issues {@code KVM_GET_STATS_FD} on the vCPU.
     *
     * @return the statistics, which the caller closes
     * @throws KvmException {@code ENOTTY} on kernels without {@code KVM_CAP_BINARY_STATS_FD}
     * @throws IllegalStateException if this vCPU is closed
     */
    public Stats stats() {
        int raw = KvmException.check(fd.call(Ioctl.GET_STATS_FD, 0), "KVM_GET_STATS_FD");
        return new Stats(new OwnedFd(raw, "vCPU " + id + " statistics"));
    }

    private static final int PRE_FAULT_SIZE = dev.kvmctl.internal.bridge.Layout.sizeOf("kvm_pre_fault_memory");
    private static final int PRE_FAULT_GPA = dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_pre_fault_memory", "gpa");
    private static final int PRE_FAULT_LENGTH = dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_pre_fault_memory", "size");

    /**
     * Maps guest memory into the vCPU's page tables ahead of the guest's first access. Issues
     * {@code KVM_PRE_FAULT_MEMORY}, which may stop early (a signal, a reschedule): call again for
     * the rest.
     *
     * @param gpa the first guest-physical address, a multiple of 4 KiB
     * @param size the range's length, a positive multiple of 4 KiB
     * @return how many bytes from {@code gpa} were mapped
     * @throws KvmException {@code EOPNOTSUPP} when this KVM's MMU cannot pre-fault
     *     ({@code KVM_CAP_PRE_FAULT_MEMORY} 0), {@code ENOENT} for a range no slot backs
     * @throws IllegalStateException if this vCPU is closed
     */
    public long preFaultMemory(long gpa, long size) {
        ensureOpen();
        ByteBuffer range = dev.kvmctl.internal.bridge.Memory.allocate(PRE_FAULT_SIZE);
        range.putLong(PRE_FAULT_GPA, gpa).putLong(PRE_FAULT_LENGTH, size);
        try {
            int rc = fd.call(Ioctl.PRE_FAULT_MEMORY, dev.kvmctl.internal.bridge.Memory.addressOf(range));
            long left = range.getLong(PRE_FAULT_LENGTH);
            if (rc < 0 && !(rc == -LibC.EINTR || rc == -LibC.EAGAIN) || (rc < 0 && left == size)) {
                throw new KvmException("KVM_PRE_FAULT_MEMORY", -rc);
            }
            return size - left;
        } finally {
            Reference.reachabilityFence(range);
        }
    }

    /**
     * This vCPU's dirty ring, mapped from its descriptor on first use. Needs
     * {@link Vm#enableDirtyRing(int)} before the vCPU was created.
     *
     * @return the ring, the same object each call; it is closed with the vCPU
     * @throws KvmException {@code mmap(dirty ring)} with the errno when it cannot be mapped
     * @throws IllegalStateException if this vCPU is closed, or its VM has no dirty rings
     */
    public synchronized DirtyRing dirtyRing() {
        ensureOpen();
        if (dirtyRing == null) {
            int bytes = vm.dirtyRingBytes();
            if (bytes == 0) {
                throw new IllegalStateException("vCPU " + id + "'s VM has no dirty rings: call Vm.enableDirtyRing before creating vCPUs");
            }
            int vcpu = fd.acquire();
            try {
                long address = LibC.map(bytes, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, vcpu,
                        (long) DIRTY_LOG_PAGE_OFFSET * 4096);
                if (address == LibC.MAP_FAILED) {
                    throw new KvmException("mmap(dirty ring)", LibC.errno());
                }
                dirtyRing = new DirtyRing(address, bytes, "vCPU " + id);
            } finally {
                fd.release();
            }
            if (closed) {
                dirtyRing.close();
            }
        }
        return dirtyRing;
    }

    private static final int DIRTY_LOG_PAGE_OFFSET = dev.kvmctl.internal.bridge.Layout.intValue("KVM_DIRTY_LOG_PAGE_OFFSET");
    private static final int COALESCED_PAGE = 4096 * dev.kvmctl.internal.bridge.Layout.intValue("KVM_COALESCED_MMIO_PAGE_OFFSET");
    private static final int RING_FIRST = COALESCED_PAGE + dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_coalesced_mmio_ring", "first");
    private static final int RING_LAST = COALESCED_PAGE + dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_coalesced_mmio_ring", "last");
    private static final int RING_ENTRIES = COALESCED_PAGE + dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_coalesced_mmio_ring", "coalesced_mmio");
    private static final int RING_ENTRY = dev.kvmctl.internal.bridge.Layout.sizeOf("kvm_coalesced_mmio");
    private static final int RING_MAX = (4096 - dev.kvmctl.internal.bridge.Layout.sizeOf("kvm_coalesced_mmio_ring")) / RING_ENTRY;
    private static final int ENTRY_ADDR = dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_coalesced_mmio", "phys_addr");
    private static final int ENTRY_LEN = dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_coalesced_mmio", "len");
    private static final int ENTRY_PIO = dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_coalesced_mmio", "pio");
    private static final int ENTRY_DATA = dev.kvmctl.internal.bridge.Layout.offsetOf("kvm_coalesced_mmio", "data");

    /**
     * Takes the oldest write from the vCPU's coalesced MMIO ring (the page after {@code kvm_run} in
     * its mapping), written there by {@link Vm#registerCoalescedIo} zones. Allocates nothing.
     *
     * @param into the holder to fill
     * @return true if there was one (now in {@code into}); false if the ring is empty
     * @throws IllegalStateException if this vCPU is closed
     */
    public boolean nextCoalescedIo(CoalescedIo into) {
        ensureOpen();
        int first = run.getInt(RING_FIRST);
        VarHandle.acquireFence();
        if (first == run.getInt(RING_LAST) || first < 0 || first >= RING_MAX) {
            return false; // empty (an index out of range would be the guest's... never the kernel's)
        }
        int at = RING_ENTRIES + first * RING_ENTRY;
        into.address = run.getLong(at + ENTRY_ADDR);
        into.length = run.getInt(at + ENTRY_LEN);
        into.pio = run.getInt(at + ENTRY_PIO) != 0;
        into.data = run.read(at + ENTRY_DATA, Math.min(Math.max(into.length, 0), 8));
        VarHandle.releaseFence();
        run.putInt(RING_FIRST, (first + 1) % RING_MAX);
        return true;
    }

    /** {@code KVM_SYNC_X86_REGS}: the general-purpose registers travel in the {@code kvm_run} page. */
    public static final int SYNC_REGS = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYNC_X86_REGS");
    /** {@code KVM_SYNC_X86_SREGS}: the special registers travel in the {@code kvm_run} page. */
    public static final int SYNC_SREGS = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYNC_X86_SREGS");
    /** {@code KVM_SYNC_X86_EVENTS}: the vCPU events travel in the {@code kvm_run} page. */
    public static final int SYNC_EVENTS = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYNC_X86_EVENTS");

    /**
     * Sets {@code kvm_run.kvm_valid_regs}: the register sets KVM copies into the page at each exit
     * ({@link Capability#SYNC_REGS} answers which it supports), saving a get call per exit.
     *
     * @param sets {@link #SYNC_REGS}, {@link #SYNC_SREGS} and {@link #SYNC_EVENTS} or'ed, or 0
     * @throws IllegalStateException if this vCPU is closed
     */
    public void syncValidRegs(int sets) {
        ensureOpen();
        run.putLong(RunPage.VALID_REGS, Integer.toUnsignedLong(sets));
    }

    /**
     * Sets {@code kvm_run.kvm_dirty_regs}: the register sets KVM loads from the page at the next
     * entry (written with {@link #writeSyncedRegs}, {@link #writeSyncedSregs} and
     * {@link #writeSyncedVcpuEvents}), saving a set call each. Until then any other call of this
     * class that reads or writes the vCPU's state (a get, a set, {@link #translate},
     * {@link #injectNmi}, ...) first applies the dirty sets itself, with their ioctls in KVM's order
     * (regs, sregs, events) and clears their bits: a get sees them and a set comes after them, as
     * if they had been set by ioctl right away.
     *
     * @param sets {@link #SYNC_REGS}, {@link #SYNC_SREGS} and {@link #SYNC_EVENTS} or'ed, or 0
     * @throws IllegalStateException if this vCPU is closed
     */
    public void syncDirtyRegs(int sets) {
        ensureOpen();
        run.putLong(RunPage.DIRTY_REGS, Integer.toUnsignedLong(sets));
    }

    /**
     * {@return {@code kvm_run.kvm_valid_regs}}
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public int syncValidRegs() {
        ensureOpen();
        return (int) run.getLong(RunPage.VALID_REGS);
    }

    /**
     * {@return {@code kvm_run.kvm_dirty_regs}}
     *
     * @throws IllegalStateException if this vCPU is closed
     */
    public int syncDirtyRegs() {
        ensureOpen();
        return (int) run.getLong(RunPage.DIRTY_REGS);
    }

    /**
     * Copies the general-purpose registers KVM left in the {@code kvm_run} page at the last exit
     * (with {@link #SYNC_REGS} valid) into {@code into}, without an ioctl.
     *
     * @param into the struct to fill
     * @return {@code into}
     * @throws IllegalStateException if this vCPU is closed
     */
    public Regs readSyncedRegs(Regs into) {
        ensureOpen();
        run.copyOut(RunPage.SYNC_REGS, into.address(), into.size());
        Reference.reachabilityFence(into);
        return into;
    }

    /**
     * Copies {@code from} into the {@code kvm_run} page's register area; with {@link #SYNC_REGS}
     * dirty ({@link #syncDirtyRegs(int)}) KVM loads it at the next entry, without an ioctl.
     *
     * @param from the registers
     * @throws IllegalStateException if this vCPU is closed
     */
    public void writeSyncedRegs(Regs from) {
        ensureOpen();
        run.copyIn(from.address(), RunPage.SYNC_REGS, from.size());
        Reference.reachabilityFence(from);
    }

    /**
     * Copies {@code from} into the {@code kvm_run} page's special-register area; with
     * {@link #SYNC_SREGS} dirty ({@link #syncDirtyRegs(int)}) KVM loads it at the next entry,
     * without an ioctl.
     *
     * @param from the special registers
     * @throws IllegalStateException if this vCPU is closed
     */
    public void writeSyncedSregs(SRegs from) {
        ensureOpen();
        run.copyIn(from.address(), RunPage.SYNC_SREGS, from.size());
        Reference.reachabilityFence(from);
    }

    /**
     * Copies {@code from} into the {@code kvm_run} page's vCPU-events area; with
     * {@link #SYNC_EVENTS} dirty ({@link #syncDirtyRegs(int)}) KVM loads it at the next entry,
     * without an ioctl.
     *
     * @param from the vCPU events
     * @throws IllegalStateException if this vCPU is closed
     */
    public void writeSyncedVcpuEvents(VcpuEvents from) {
        ensureOpen();
        run.copyIn(from.address(), RunPage.SYNC_EVENTS, from.size());
        Reference.reachabilityFence(from);
    }

    /**
     * Applies the register sets left dirty in the {@code kvm_run} page ({@link #syncDirtyRegs})
     * with their ioctls, straight from the page, in the order KVM's {@code sync_regs} applies them
     * at {@code KVM_RUN}'s entry, and clears their bits first (a set KVM refuses is reported once,
     * not again at every later call). Called before every other state ioctl, so a get sees the
     * pending state and a set lands after it. One read of the page when nothing is dirty.
     */
    private void applyDirtySyncedRegs() {
        if (closed) {
            return; // the ioctl that follows reports it
        }
        long dirty = run.getLong(RunPage.DIRTY_REGS);
        if (dirty == 0) {
            return;
        }
        run.putLong(RunPage.DIRTY_REGS, 0);
        if ((dirty & SYNC_REGS) != 0) {
            KvmException.check(fd.call(Ioctl.SET_REGS, run.address(RunPage.SYNC_REGS)), "KVM_SET_REGS");
        }
        if ((dirty & SYNC_SREGS) != 0) {
            KvmException.check(fd.call(Ioctl.SET_SREGS, run.address(RunPage.SYNC_SREGS)), "KVM_SET_SREGS");
        }
        if ((dirty & SYNC_EVENTS) != 0) {
            KvmException.check(fd.call(Ioctl.SET_VCPU_EVENTS, run.address(RunPage.SYNC_EVENTS)), "KVM_SET_VCPU_EVENTS");
        }
    }

    /**
     * The ioctl {@code op} with {@code struct}'s address, the descriptor held open for the call
     * and the struct kept reachable until the kernel is done with its memory (a struct the caller
     * no longer uses could otherwise be freed while the kernel writes into it).
     */
    private int struct(Ioctl op, KvmStruct struct) {
        applyDirtySyncedRegs();
        try {
            return KvmException.check(fd.call(op, struct.address()), op.kernelName());
        } finally {
            Reference.reachabilityFence(struct);
        }
    }

    // ---- lifetime ----

    /** {@return whether {@link #close()} was called, here or by closing the {@link Vm}} */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Closes the vCPU; idempotent, and safe from any thread. A {@link #run()} in progress on
     * another thread is stopped (it throws {@link IllegalStateException}) and this waits until no
     * call on the vCPU is in flight; then the descriptor is closed and the {@code kvm_run} page is
     * swapped for a zero page (see the class comment).
     */
    @Override
    public void close() {
        boolean interrupted = false;
        synchronized (kickLock) {
            if (closed) {
                return;
            }
            closed = true;
            fd.close(); // no new call starts; the last one in flight closes the descriptor
            while (!fd.isReleased()) {
                stopRun(); // again each round: another thread's run may have cleared immediate_exit
                try {
                    kickLock.wait(1);
                } catch (InterruptedException e) {
                    interrupted = true; // finish closing: a run left behind could outlive the VM's memory
                }
            }
        }
        run.close();
        synchronized (this) {
            if (dirtyRing != null) {
                dirtyRing.close();
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public String toString() {
        return "Vcpu[" + id + ", " + fd + "]";
    }
}
