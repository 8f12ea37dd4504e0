package dev.kvmctl;

import java.nio.ByteBuffer;

/**
 * Why {@link Vcpu#run()} returned: one type per exit reason, read in place from the vCPU's mapped
 * {@code kvm_run} page.
 *
 * <p>Each vCPU owns one instance of each type and {@code run()} returns the one that matches, so a
 * run allocates nothing. An exit is therefore valid only until the next {@code run()} on the same
 * vCPU: read what you need, answer I/O-in and MMIO-read exits, then run again. Exits are, with
 * the {@code xView()} methods, the shared objects of kvmctl's naming rule (see
 * <a href="Vcpu.html#shared-or-copy">Vcpu</a>): copy out what must outlive the next run.
 *
 * <p>After the vCPU is closed (by {@link Vcpu#close()} or by closing its {@link Vm}), every method
 * that reads or writes what the exit reported throws {@link IllegalStateException}, whichever
 * exit object a caller kept. {@link #reason()} and {@link #kind()} need no page and keep
 * answering; {@code toString()} names the kind and says the vCPU is closed. A read racing with
 * the close on another thread either completes with the exit's data or reads zeros (see
 * {@link Vcpu}); it never touches unmapped memory. A {@link Io#data()} view kept past the close
 * reads zeros.
 *
 * <pre>{@code
 * while (true) {
 *     VmExit exit = vcpu.run();
 *     if (exit instanceof VmExit.IoOut out && out.port() == 0x3f8) {
 *         System.out.print((char) out.value());
 *     } else if (exit instanceof VmExit.IoIn in) {
 *         in.answer(0xff);                     // the answer goes straight into kvm_run
 *     } else if (exit instanceof VmExit.Hlt) {
 *         break;
 *     } else {
 *         throw new IllegalStateException("unexpected " + exit);
 *     }
 * }
 * }</pre>
 */
public sealed interface VmExit
        permits VmExit.IoOut, VmExit.IoIn, VmExit.MmioRead, VmExit.MmioWrite, VmExit.Hlt,
                VmExit.Shutdown, VmExit.FailEntry, VmExit.InternalError, VmExit.SystemEvent,
                VmExit.Debug, VmExit.Interrupted, VmExit.GuestException, VmExit.Hypercall,
                VmExit.IrqWindowOpen, VmExit.Unknown, VmExit.SetTpr, VmExit.TprAccess, VmExit.Nmi,
                VmExit.IoapicEoi, VmExit.Hyperv, VmExit.MsrRead, VmExit.MsrWrite, VmExit.DirtyRingFull,
                VmExit.ApResetHold, VmExit.BusLock, VmExit.Xen, VmExit.Notify, VmExit.OtherArchitecture {

    /**
     * {@return the kernel's exit reason number ({@code KVM_EXIT_*}), or {@code KVM_EXIT_INTR} for
     * an interrupted run}
     * Answers after the vCPU is closed too.
     */
    int reason();

    /**
     * {@return which kind of exit this is: one constant per exit type, for switches and counting}
     * Answers after the vCPU is closed too.
     */
    Kind kind();

    /**
     * The kinds of exit, one per {@link VmExit} type. The declaration order is stable (reports
     * and saved exit counts list kinds in it; new kinds go at the end), so {@link #ordinal()}
     * indexes a plain {@code long[]} of counters without allocating.
     */
    enum Kind {
        /** {@link IoOut}. */
        IO_OUT("io-out"),
        /** {@link IoIn}. */
        IO_IN("io-in"),
        /** {@link MmioRead}. */
        MMIO_READ("mmio-read"),
        /** {@link MmioWrite}. */
        MMIO_WRITE("mmio-write"),
        /** {@link Hlt}. */
        HLT("hlt"),
        /** {@link Shutdown}. */
        SHUTDOWN("shutdown"),
        /** {@link FailEntry}. */
        FAIL_ENTRY("fail-entry"),
        /** {@link InternalError}. */
        INTERNAL_ERROR("internal-error"),
        /** {@link SystemEvent}. */
        SYSTEM_EVENT("system-event"),
        /** {@link Debug}. */
        DEBUG("debug"),
        /** {@link Interrupted}. */
        INTERRUPTED("interrupted"),
        /** {@link GuestException}. */
        EXCEPTION("exception"),
        /** {@link Hypercall}. */
        HYPERCALL("hypercall"),
        /** {@link IrqWindowOpen}. */
        IRQ_WINDOW_OPEN("irq-window-open"),
        /** {@link Unknown}. */
        UNKNOWN("unknown"),
        /** {@link SetTpr}. */
        SET_TPR("set-tpr"),
        /** {@link TprAccess}. */
        TPR_ACCESS("tpr-access"),
        /** {@link Nmi}. */
        NMI("nmi"),
        /** {@link IoapicEoi}. */
        IOAPIC_EOI("ioapic-eoi"),
        /** {@link Hyperv}. */
        HYPERV("hyperv"),
        /** {@link MsrRead}. */
        MSR_READ("msr-read"),
        /** {@link MsrWrite}. */
        MSR_WRITE("msr-write"),
        /** {@link DirtyRingFull}. */
        DIRTY_RING_FULL("dirty-ring-full"),
        /** {@link ApResetHold}. */
        AP_RESET_HOLD("ap-reset-hold"),
        /** {@link BusLock}. */
        BUS_LOCK("bus-lock"),
        /** {@link Xen}. */
        XEN("xen"),
        /** {@link Notify}. */
        NOTIFY("notify"),
        /** {@link OtherArchitecture}. */
        OTHER_ARCHITECTURE("other-architecture");

        private final String label;

        Kind(String label) {
            this.label = label;
        }

        /** {@return the kind's name in reports and JSON, e.g. {@code "io-out"}} */
        public String label() {
            return label;
        }
    }

    /** What {@code toString()} says once the vCPU is closed: the kind only, the data is gone. */
    private static String closed(VmExit exit) {
        return exit.kind().label() + " (vCPU closed)";
    }

    /**
     * {@code toString()} of an exit with data: {@code details}, read from the page, while the vCPU
     * is open; {@link #closed} once it is (the reads then throw {@link IllegalStateException}).
     */
    private static String describe(VmExit exit, java.util.function.Supplier<String> details) {
        try {
            return details.get();
        } catch (IllegalStateException e) {
            return closed(exit);
        }
    }

    /** Port I/O common to both directions. */
    abstract sealed class Io permits IoOut, IoIn {
        final RunPage run;

        Io(RunPage run) {
            this.run = run;
        }

        /**
         * {@return the kernel's exit reason number, {@code KVM_EXIT_IO}}
         *
         * @see VmExit#reason()
         */
        public int reason() {
            return RunPage.EXIT_IO;
        }

        /**
         * {@return the I/O port, 0 to 0xffff}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int port() {
            return Short.toUnsignedInt(run.getShort(RunPage.IO_PORT));
        }

        /**
         * {@return bytes per access: 1, 2 or 4}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int size() {
            return run.get(RunPage.IO_SIZE);
        }

        /**
         * {@return how many accesses the exit carries: 1, or more for a {@code rep ins} or
         * {@code rep outs}}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int count() {
            return run.getInt(RunPage.IO_COUNT);
        }

        /** Offset of the data in the {@code kvm_run} page. */
        int dataOffset() {
            return (int) run.getLong(RunPage.IO_DATA_OFFSET);
        }

        /**
         * A view of the data inside the vCPU's mapped page, for string I/O: writing into it
         * answers an {@code ins}. Allocates the view; {@link #value(int)} does not.
         *
         * @return a new little-endian view of the {@code size() * count()} data bytes, valid until
         *     the next run; one kept past the vCPU's close reads zeros
         * @throws IllegalStateException if the vCPU is closed
         */
        public ByteBuffer data() {
            return run.slice(dataOffset(), size() * count());
        }

        /**
         * {@return element {@code i} of a string I/O, zero-extended}
         *
         * @param i the element, from 0 to {@code count() - 1}
         * @throws IndexOutOfBoundsException for any other {@code i}
         * @throws IllegalStateException if the vCPU is closed
         */
        public int value(int i) {
            if (i < 0 || i >= count()) {
                throw new IndexOutOfBoundsException("element " + i + " of " + count());
            }
            return (int) run.read(dataOffset() + i * size(), size());
        }

        @Override
        public String toString() {
            VmExit exit = (VmExit) this;
            return describe(exit, () -> String.format("%s port=0x%x size=%d count=%d", exit.kind().label(), port(), size(), count()));
        }
    }

    /** The guest wrote to an I/O port ({@code out}, {@code outs}). */
    final class IoOut extends Io implements VmExit {
        IoOut(RunPage run) {
            super(run);
        }

        /**
         * {@return the value written by a single {@code out}, zero-extended (the first element of a
         * string out)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int value() {
            return (int) run.read(dataOffset(), size());
        }

        @Override
        public Kind kind() {
            return Kind.IO_OUT;
        }
    }

    /** The guest read from an I/O port ({@code in}, {@code ins}); answer with {@link #value(int)}. */
    final class IoIn extends Io implements VmExit {
        IoIn(RunPage run) {
            super(run);
        }

        /**
         * Answers the guest's read: writes into the vCPU's mapped page what the next run hands the
         * guest. For a string input ({@code rep ins}) every element gets the same value; write
         * distinct ones through {@link #data()}.
         *
         * @param value the value read; its low {@link #size()} bytes are used
         * @throws IllegalStateException if the vCPU is closed
         */
        public void answer(int value) {
            int size = size();
            int at = dataOffset();
            for (int i = 0, n = count(); i < n; i++) {
                run.write(at + i * size, size, value);
            }
        }

        @Override
        public Kind kind() {
            return Kind.IO_IN;
        }
    }

    /** MMIO common to both directions. */
    abstract sealed class Mmio permits MmioRead, MmioWrite {
        final RunPage run;

        Mmio(RunPage run) {
            this.run = run;
        }

        /**
         * {@return the kernel's exit reason number, {@code KVM_EXIT_MMIO}}
         *
         * @see VmExit#reason()
         */
        public int reason() {
            return RunPage.EXIT_MMIO;
        }

        /**
         * {@return the guest-physical address accessed, outside every memory slot (or, for a write,
         * in a read-only one)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long address() {
            return run.getLong(RunPage.MMIO_PHYS_ADDR);
        }

        /**
         * {@return bytes accessed: 1 to 8}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int length() {
            return run.getInt(RunPage.MMIO_LEN);
        }

        @Override
        public String toString() {
            VmExit exit = (VmExit) this;
            return describe(exit, () -> String.format("%s addr=0x%x len=%d", exit.kind().label(), address(), length()));
        }
    }

    /** The guest read unbacked guest-physical memory; answer with {@link #answer(long)}. */
    final class MmioRead extends Mmio implements VmExit {
        MmioRead(RunPage run) {
            super(run);
        }

        /**
         * Answers the guest's read: writes into the vCPU's mapped page what the next run hands
         * the guest.
         *
         * @param value the value read; its low {@link #length()} bytes are used, little-endian
         * @throws IllegalStateException if the vCPU is closed
         */
        public void answer(long value) {
            run.write(RunPage.MMIO_DATA, Math.min(length(), 8), value);
        }

        @Override
        public Kind kind() {
            return Kind.MMIO_READ;
        }
    }

    /** The guest wrote to unbacked guest-physical memory. */
    final class MmioWrite extends Mmio implements VmExit {
        MmioWrite(RunPage run) {
            super(run);
        }

        /**
         * {@return the value written, zero-extended from {@link #length()} bytes}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long value() {
            return run.read(RunPage.MMIO_DATA, Math.min(length(), 8));
        }

        @Override
        public Kind kind() {
            return Kind.MMIO_WRITE;
        }

        @Override
        public String toString() {
            return describe(this, () -> String.format("%s addr=0x%x len=%d value=0x%x", kind().label(), address(), length(), value()));
        }
    }

    /** The guest executed {@code hlt} and no interrupt can wake it (without an in-kernel irqchip). */
    final class Hlt implements VmExit {
        Hlt() {}

        @Override public int reason() { return RunPage.EXIT_HLT; }
        @Override public Kind kind() { return Kind.HLT; }
        @Override public String toString() { return kind().label(); }
    }

    /** The guest shut down: a triple fault, or a shutdown it asked for. */
    final class Shutdown implements VmExit {
        Shutdown() {}

        @Override public int reason() { return RunPage.EXIT_SHUTDOWN; }
        @Override public Kind kind() { return Kind.SHUTDOWN; }
        @Override public String toString() { return "shutdown (triple fault)"; }
    }

    /** The hardware refused to enter the guest, usually because of an invalid register state. */
    final class FailEntry implements VmExit {
        private final RunPage run;

        FailEntry(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_FAIL_ENTRY; }
        @Override public Kind kind() { return Kind.FAIL_ENTRY; }

        /**
         * {@return the hardware's reason code (on Intel, the VM-entry failure reason)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long hardwareReason() {
            return run.getLong(RunPage.FAIL_ENTRY_REASON);
        }

        /**
         * {@return the host CPU that failed to enter}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int cpu() {
            return run.getInt(RunPage.FAIL_ENTRY_CPU);
        }

        @Override
        public String toString() {
            return describe(this, () -> String.format("fail-entry hardware_reason=0x%x cpu=%d", hardwareReason(), cpu()));
        }
    }

    /** KVM could not handle an exit itself, e.g. an instruction its emulator does not support. */
    final class InternalError implements VmExit {
        /** The {@link #suberror()} of an emulation failure ({@code KVM_INTERNAL_ERROR_EMULATION}, 1). */
        public static final int EMULATION = RunPage.INTERNAL_ERROR_EMULATION;
        private final RunPage run;

        InternalError(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_INTERNAL_ERROR; }
        @Override public Kind kind() { return Kind.INTERNAL_ERROR; }

        /**
         * {@return the {@code KVM_INTERNAL_ERROR_*} suberror: 1 emulation failure, 2 an exception
         * while delivering an exception, 3 event delivery failed, 4 an unexpected exit reason}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int suberror() {
            return run.getInt(RunPage.INTERNAL_SUBERROR);
        }

        /**
         * {@return a new array of the error's extra data words (at most 16), whose meaning
         * depends on the suberror}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long[] data() {
            int n = Math.min(run.getInt(RunPage.INTERNAL_NDATA), 16);
            long[] data = new long[Math.max(n, 0)];
            for (int i = 0; i < data.length; i++) {
                data[i] = run.getLong(RunPage.INTERNAL_DATA + 8 * i);
            }
            return data;
        }

        /**
         * {@return a new array of the failing instruction's bytes (at most 15), for an emulation
         * failure that carries them; else empty}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public byte[] instructionBytes() {
            boolean hasBytes = suberror() == EMULATION && run.getInt(RunPage.INTERNAL_NDATA) >= 3
                    && (run.getLong(RunPage.EMULATION_FLAGS) & 1) != 0;
            if (!hasBytes) {
                return new byte[0];
            }
            int n = Math.min(Byte.toUnsignedInt(run.get(RunPage.EMULATION_INSN_SIZE)), 15);
            byte[] bytes = new byte[n];
            run.get(RunPage.EMULATION_INSN_BYTES, bytes);
            return bytes;
        }

        /**
         * {@return a name for the suberror, for messages}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public String suberrorName() {
            switch (suberror()) {
                case 1: return "emulation failure";
                case 2: return "exception while delivering an exception (simul_ex)";
                case 3: return "event delivery failed";
                case 4: return "unexpected exit reason";
                default: return "suberror " + suberror();
            }
        }

        @Override
        public String toString() {
            return describe(this, () -> {
                StringBuilder sb = new StringBuilder("internal-error: ").append(suberrorName());
                byte[] insn = instructionBytes();
                if (insn.length > 0) {
                    sb.append(", instruction");
                    for (byte b : insn) {
                        sb.append(String.format(" %02x", b));
                    }
                }
                return sb.toString();
            });
        }
    }

    /** A system-level event: the guest asked for shutdown, reset, or crashed. */
    final class SystemEvent implements VmExit {
        /** A {@link #type()}: the guest asked to be powered off. */
        public static final int SHUTDOWN = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYSTEM_EVENT_SHUTDOWN");
        /** A {@link #type()}: the guest asked to be reset. */
        public static final int RESET = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYSTEM_EVENT_RESET");
        /** A {@link #type()}: the guest reported a crash (a panic it told the hypervisor about). */
        public static final int CRASH = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYSTEM_EVENT_CRASH");
        private final RunPage run;

        SystemEvent(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_SYSTEM_EVENT; }
        @Override public Kind kind() { return Kind.SYSTEM_EVENT; }

        /**
         * {@return the event: {@link #SHUTDOWN}, {@link #RESET}, {@link #CRASH}, or another
         * {@code KVM_SYSTEM_EVENT_*}}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int type() {
            return run.getInt(RunPage.SYSTEM_EVENT_TYPE);
        }

        /**
         * {@return the event's first data word (the old {@code flags} field), whose meaning
         * depends on the type}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long flags() {
            return run.getLong(RunPage.SYSTEM_EVENT_DATA);
        }

        @Override
        public String toString() {
            return describe(this, () -> "system-event type=" + type());
        }
    }

    /** A debug exit: a single step, a breakpoint or a watchpoint under {@code KVM_SET_GUEST_DEBUG}. */
    final class Debug implements VmExit {
        private final RunPage run;

        Debug(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_DEBUG; }
        @Override public Kind kind() { return Kind.DEBUG; }

        /**
         * {@return the exception vector: 1 for #DB (single step, hardware breakpoint), 3 for #BP}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int exception() {
            return run.getInt(RunPage.DEBUG_EXCEPTION);
        }

        /**
         * {@return the guest's instruction pointer at the exit}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long pc() {
            return run.getLong(RunPage.DEBUG_PC);
        }

        /**
         * {@return DR6 at the exit: which condition fired (bits 0-3 a hardware breakpoint, bit 14 a
         * single step)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long dr6() {
            return run.getLong(RunPage.DEBUG_DR6);
        }

        /**
         * {@return DR7 at the exit: the breakpoints enabled}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long dr7() {
            return run.getLong(RunPage.DEBUG_DR7);
        }

        @Override
        public String toString() {
            return describe(this, () -> String.format("debug exception=%d pc=0x%x dr6=0x%x", exception(), pc(), dr6()));
        }
    }

    /** KVM_RUN was interrupted: {@link Vcpu#kick()}, {@code immediate_exit}, or a signal. */
    final class Interrupted implements VmExit {
        Interrupted() {}

        @Override public int reason() { return RunPage.EXIT_INTR; }
        @Override public Kind kind() { return Kind.INTERRUPTED; }
        @Override public String toString() { return kind().label(); }
    }

    /** The guest raised an exception KVM reports to user space ({@code KVM_EXIT_EXCEPTION}). */
    final class GuestException implements VmExit {
        private final RunPage run;

        GuestException(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_EXCEPTION; }
        @Override public Kind kind() { return Kind.EXCEPTION; }

        /**
         * {@return the exception vector, e.g. 6 for #UD, 14 for #PF}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int vector() {
            return run.getInt(RunPage.EX_EXCEPTION);
        }

        /**
         * {@return the exception's error code, for the vectors that push one (0 otherwise)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int errorCode() {
            return run.getInt(RunPage.EX_ERROR_CODE);
        }

        @Override
        public String toString() {
            return describe(this, () -> "exception vector=" + vector() + " error_code=" + errorCode());
        }
    }

    /** A hypercall KVM hands to user space ({@code KVM_EXIT_HYPERCALL}). */
    final class Hypercall implements VmExit {
        private final RunPage run;

        Hypercall(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_HYPERCALL; }
        @Override public Kind kind() { return Kind.HYPERCALL; }

        /**
         * {@return the hypercall number the guest passed (in RAX)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long number() {
            return run.getLong(RunPage.HYPERCALL_NR);
        }

        /**
         * {@return argument {@code i} of the hypercall (RBX, RCX, RDX, RSI, ... as KVM copied them)}
         *
         * @param i the argument, 0 to 5
         * @throws IndexOutOfBoundsException for any other {@code i}
         * @throws IllegalStateException if the vCPU is closed
         */
        public long arg(int i) {
            java.util.Objects.checkIndex(i, 6);
            return run.getLong(RunPage.HYPERCALL_ARGS + 8 * i);
        }

        /**
         * {@return whether the guest made the call in 64-bit mode}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public boolean longMode() {
            return run.getInt(RunPage.HYPERCALL_LONGMODE) != 0;
        }

        /**
         * Sets the value the guest gets back in RAX when the vCPU runs again.
         *
         * @param value the result
         * @throws IllegalStateException if the vCPU is closed
         */
        public void answer(long value) {
            run.putLong(RunPage.HYPERCALL_RET, value);
        }

        @Override
        public String toString() {
            return describe(this, () -> "hypercall nr=" + number());
        }
    }

    /** The guest can take an interrupt now (after {@code request_interrupt_window}). */
    final class IrqWindowOpen implements VmExit {
        IrqWindowOpen() {}

        @Override public int reason() { return RunPage.EXIT_IRQ_WINDOW_OPEN; }
        @Override public Kind kind() { return Kind.IRQ_WINDOW_OPEN; }
        @Override public String toString() { return kind().label(); }
    }

    /** Any exit reason kvmctl has no type for, with its number. */
    final class Unknown implements VmExit {
        private final RunPage run;
        /** Set by the run that returned this exit, so it answers without reading the page. */
        private int reason;

        Unknown(RunPage run) {
            this.run = run;
        }

        /** Records the reason of the exit being returned (a field write: the run allocates nothing). */
        Unknown reason(int value) {
            reason = value;
            return this;
        }

        /** The exit reason number, as {@code run()} read it. */
        @Override
        public int reason() {
            return reason;
        }

        @Override public Kind kind() { return Kind.UNKNOWN; }

        /**
         * {@return the hardware's exit reason, for {@code KVM_EXIT_UNKNOWN} (meaningless for other
         * reasons)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long hardwareExitReason() {
            return run.getLong(RunPage.HW_EXIT_REASON);
        }

        /**
         * Copies the exit's raw data (the {@code kvm_run} union, 256 bytes) into {@code into}, for
         * reasons newer than the headers kvmctl was built with.
         *
         * @param into the destination; its first {@code min(into.length, 256)} bytes are written
         * @throws IllegalStateException if the vCPU is closed
         */
        public void data(byte[] into) {
            RunPage.copyUnion(run, into);
        }

        @Override
        public String toString() {
            try {
                return "unknown exit reason " + reason
                        + (reason == RunPage.EXIT_UNKNOWN ? String.format(" (hardware 0x%x)", hardwareExitReason()) : "");
            } catch (IllegalStateException e) {
                return closed(this) + " reason " + reason;
            }
        }
    }

    /** The guest wrote CR8 (the task-priority register) and KVM hands it to user space ({@code KVM_EXIT_SET_TPR}). */
    final class SetTpr implements VmExit {
        SetTpr() {}

        @Override public int reason() { return RunPage.EXIT_SET_TPR; }
        @Override public Kind kind() { return Kind.SET_TPR; }
        @Override public String toString() { return kind().label(); }
    }

    /** The guest touched the TPR of its local APIC under TPR access reporting ({@code KVM_EXIT_TPR_ACCESS}). */
    final class TprAccess implements VmExit {
        private final RunPage run;

        TprAccess(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_TPR_ACCESS; }
        @Override public Kind kind() { return Kind.TPR_ACCESS; }

        /**
         * {@return the guest instruction pointer of the access}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long rip() {
            return run.getLong(RunPage.TPR_ACCESS_RIP);
        }

        /**
         * {@return whether it was a write}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public boolean isWrite() {
            return run.getInt(RunPage.TPR_ACCESS_IS_WRITE) != 0;
        }

        @Override
        public String toString() {
            return describe(this, () -> String.format("tpr-access rip=0x%x write=%b", rip(), isWrite()));
        }
    }

    /** An NMI reached the vCPU and KVM hands it to user space ({@code KVM_EXIT_NMI}). */
    final class Nmi implements VmExit {
        Nmi() {}

        @Override public int reason() { return RunPage.EXIT_NMI; }
        @Override public Kind kind() { return Kind.NMI; }
        @Override public String toString() { return kind().label(); }
    }

    /**
     * The guest acknowledged a level-triggered interrupt of a user-space IOAPIC under a split
     * irqchip ({@code KVM_EXIT_IOAPIC_EOI}).
     */
    final class IoapicEoi implements VmExit {
        private final RunPage run;

        IoapicEoi(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_IOAPIC_EOI; }
        @Override public Kind kind() { return Kind.IOAPIC_EOI; }

        /**
         * {@return the vector acknowledged}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int vector() {
            return Byte.toUnsignedInt(run.get(RunPage.EOI_VECTOR));
        }

        @Override
        public String toString() {
            return describe(this, () -> "ioapic-eoi vector=" + vector());
        }
    }

    /** A Hyper-V enlightenment needs user space: SynIC, a hypercall, the debugger ({@code KVM_EXIT_HYPERV}). */
    final class Hyperv implements VmExit {
        private final RunPage run;

        Hyperv(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_HYPERV; }
        @Override public Kind kind() { return Kind.HYPERV; }

        /**
         * {@return the kind of Hyper-V exit: {@code KVM_EXIT_HYPERV_SYNIC} 1, {@code _HCALL} 2,
         * {@code _SYNDBG} 3; the rest of its data is in {@link Vcpu#runPage()}}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int type() {
            return run.getInt(RunPage.HYPERV_TYPE);
        }

        @Override
        public String toString() {
            return describe(this, () -> "hyperv type=" + type());
        }
    }

    /** What MSR reads and writes handed to user space have in common. */
    abstract sealed class MsrAccess permits MsrRead, MsrWrite {
        final RunPage run;

        MsrAccess(RunPage run) {
            this.run = run;
        }

        /**
         * {@return the MSR index the guest accessed (ECX)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int index() {
            return run.getInt(RunPage.MSR_INDEX);
        }

        /**
         * {@return why KVM handed the access over: {@link VmExit#REASON_INVALID} (KVM does not know the
         * MSR), {@link VmExit#REASON_UNKNOWN} (it knows it but cannot handle it) or {@link VmExit#REASON_FILTER}
         * (an {@link MsrFilter} refused it); the bits enabled with
         * {@code KVM_CAP_X86_USER_SPACE_MSR}}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int exitReason() {
            return run.getInt(RunPage.MSR_REASON);
        }

        /**
         * Makes the guest's access fail: it gets #GP when the vCPU runs again.
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public void fail() {
            run.put(RunPage.MSR_ERROR, (byte) 1);
        }

        @Override
        public String toString() {
            VmExit exit = (VmExit) this;
            return describe(exit, () -> String.format("%s index=0x%x reason=%d data=0x%x", exit.kind().label(), index(),
                    exitReason(), run.getLong(RunPage.MSR_DATA)));
        }
    }

    /** {@code KVM_MSR_EXIT_REASON_INVAL}: the MSR is unknown to KVM. */
    int REASON_INVALID = RunPage.MSR_REASON_INVAL;
    /** {@code KVM_MSR_EXIT_REASON_UNKNOWN}: KVM knows the MSR but cannot handle the access. */
    int REASON_UNKNOWN = RunPage.MSR_REASON_UNKNOWN;
    /** {@code KVM_MSR_EXIT_REASON_FILTER}: an {@link MsrFilter} refused the access. */
    int REASON_FILTER = RunPage.MSR_REASON_FILTER;

    /**
     * A guest {@code rdmsr} handed to user space ({@code KVM_EXIT_X86_RDMSR}), after
     * {@code KVM_CAP_X86_USER_SPACE_MSR} was enabled. Complete it with {@link #answer(long)} or
     * {@link #fail()} before running the vCPU again.
     */
    final class MsrRead extends MsrAccess implements VmExit {
        MsrRead(RunPage run) {
            super(run);
        }

        @Override public int reason() { return RunPage.EXIT_X86_RDMSR; }
        @Override public Kind kind() { return Kind.MSR_READ; }

        /**
         * Gives the guest {@code value} in EDX:EAX when the vCPU runs again.
         *
         * @param value the MSR's value
         * @throws IllegalStateException if the vCPU is closed
         */
        public void answer(long value) {
            run.putLong(RunPage.MSR_DATA, value);
            run.put(RunPage.MSR_ERROR, (byte) 0);
        }
    }

    /**
     * A guest {@code wrmsr} handed to user space ({@code KVM_EXIT_X86_WRMSR}), after
     * {@code KVM_CAP_X86_USER_SPACE_MSR} was enabled. It succeeds unless {@link #fail()} is called
     * before the vCPU runs again.
     */
    final class MsrWrite extends MsrAccess implements VmExit {
        MsrWrite(RunPage run) {
            super(run);
        }

        @Override public int reason() { return RunPage.EXIT_X86_WRMSR; }
        @Override public Kind kind() { return Kind.MSR_WRITE; }

        /**
         * {@return the value the guest writes (EDX:EAX)}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public long data() {
            return run.getLong(RunPage.MSR_DATA);
        }

        /**
         * Lets the write succeed (the default).
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public void accept() {
            run.put(RunPage.MSR_ERROR, (byte) 0);
        }
    }

    /** The vCPU's dirty ring is full: harvest it and {@link Vm#resetDirtyRings()} ({@code KVM_EXIT_DIRTY_RING_FULL}). */
    final class DirtyRingFull implements VmExit {
        DirtyRingFull() {}

        @Override public int reason() { return RunPage.EXIT_DIRTY_RING_FULL; }
        @Override public Kind kind() { return Kind.DIRTY_RING_FULL; }
        @Override public String toString() { return kind().label(); }
    }

    /** An SEV-ES application processor waits for an INIT-SIPI from user space ({@code KVM_EXIT_AP_RESET_HOLD}). */
    final class ApResetHold implements VmExit {
        ApResetHold() {}

        @Override public int reason() { return RunPage.EXIT_AP_RESET_HOLD; }
        @Override public Kind kind() { return Kind.AP_RESET_HOLD; }
        @Override public String toString() { return kind().label(); }
    }

    /** The guest took a bus lock, with {@code KVM_CAP_X86_BUS_LOCK_EXIT} enabled ({@code KVM_EXIT_X86_BUS_LOCK}). */
    final class BusLock implements VmExit {
        BusLock() {}

        @Override public int reason() { return RunPage.EXIT_X86_BUS_LOCK; }
        @Override public Kind kind() { return Kind.BUS_LOCK; }
        @Override public String toString() { return kind().label(); }
    }

    /** A Xen hypercall for a Xen-emulating VMM ({@code KVM_EXIT_XEN}). */
    final class Xen implements VmExit {
        private final RunPage run;

        Xen(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_XEN; }
        @Override public Kind kind() { return Kind.XEN; }

        /**
         * {@return the kind of Xen exit ({@code KVM_EXIT_XEN_HCALL} 1); its data is in
         * {@link Vcpu#runPage()}}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int type() {
            return run.getInt(RunPage.XEN_TYPE);
        }

        @Override
        public String toString() {
            return describe(this, () -> "xen type=" + type());
        }
    }

    /** The guest stayed too long in a window without exits, with {@code KVM_CAP_X86_NOTIFY_VMEXIT} ({@code KVM_EXIT_NOTIFY}). */
    final class Notify implements VmExit {
        private final RunPage run;

        Notify(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_NOTIFY; }
        @Override public Kind kind() { return Kind.NOTIFY; }

        /**
         * {@return the notify flags: bit 0 ({@code KVM_NOTIFY_CONTEXT_INVALID}) when the VM context
         * is corrupted and the VM should be killed}
         *
         * @throws IllegalStateException if the vCPU is closed
         */
        public int flags() {
            return run.getInt(RunPage.NOTIFY_FLAGS);
        }

        @Override
        public String toString() {
            return describe(this, () -> "notify flags=" + flags());
        }
    }

    /**
     * An exit reason the headers define for another architecture (s390, PowerPC, Arm, RISC-V), which
     * x86 KVM never returns: kept typed so that a decoder sees it, with its number and raw exit data
     * ({@code toString()} names it, e.g. {@code KVM_EXIT_S390_SIEIC}).
     */
    final class OtherArchitecture implements VmExit {
        private final RunPage run;
        private int reason;

        OtherArchitecture(RunPage run) {
            this.run = run;
        }

        /** Records the reason of the exit being returned (a field write: the run allocates nothing). */
        OtherArchitecture reason(int value) {
            reason = value;
            return this;
        }

        /** The exit reason number, as {@code run()} read it. */
        @Override
        public int reason() {
            return reason;
        }

        @Override public Kind kind() { return Kind.OTHER_ARCHITECTURE; }

        /**
         * Copies the exit's raw data (the {@code kvm_run} union, 256 bytes) into {@code into}.
         *
         * @param into the destination; its first {@code min(into.length, 256)} bytes are written
         * @throws IllegalStateException if the vCPU is closed
         */
        public void data(byte[] into) {
            RunPage.copyUnion(run, into);
        }

        @Override
        public String toString() {
            return "other-architecture exit " + RunPage.exitName(reason);
        }
    }
}
