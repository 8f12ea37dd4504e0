package dev.kvmctl;

import java.nio.ByteBuffer;

/**
 * Why {@link Vcpu#run()} returned: one type per exit reason, read in place from the vCPU's mapped
 * {@code kvm_run} page.
 *
 * <p>Each vCPU owns one instance of each type and {@code run()} returns the one that matches, so a
 * run allocates nothing. An exit is therefore valid only until the next {@code run()} on the same
 * vCPU: read what you need, answer I/O-in and MMIO-read exits, then run again.
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
                VmExit.IrqWindowOpen, VmExit.Unknown {

    /** The kernel's exit reason number ({@code KVM_EXIT_*}). */
    int reason();

    /** A short name of this kind of exit, e.g. {@code "io-out"}, for reports. */
    String kind();

    /** Port I/O common to both directions. */
    abstract sealed class Io permits IoOut, IoIn {
        final RunPage run;

        Io(RunPage run) {
            this.run = run;
        }

        public int reason() {
            return RunPage.EXIT_IO;
        }

        /** The I/O port. */
        public int port() {
            return Short.toUnsignedInt(run.page.getShort(RunPage.IO_PORT));
        }

        /** Bytes per access: 1, 2 or 4. */
        public int size() {
            return run.page.get(RunPage.IO_SIZE);
        }

        /** Accesses: 1, or more for a {@code rep ins}/{@code rep outs}. */
        public int count() {
            return run.page.getInt(RunPage.IO_COUNT);
        }

        /** Offset of the data in the {@code kvm_run} page. */
        int dataOffset() {
            return (int) run.page.getLong(RunPage.IO_DATA_OFFSET);
        }

        /** A view of the {@code size * count} data bytes inside the {@code kvm_run} page (allocates the view). */
        public ByteBuffer data() {
            return run.page.slice(dataOffset(), size() * count()).order(run.page.order());
        }

        /** Element {@code i} of a string I/O, zero-extended. */
        public int value(int i) {
            if (i < 0 || i >= count()) {
                throw new IndexOutOfBoundsException("element " + i + " of " + count());
            }
            return (int) run.read(dataOffset() + i * size(), size());
        }

        @Override
        public String toString() {
            return String.format("%s port=0x%x size=%d count=%d", ((VmExit) this).kind(), port(), size(), count());
        }
    }

    /** The guest wrote to an I/O port ({@code out}, {@code outs}). */
    final class IoOut extends Io implements VmExit {
        IoOut(RunPage run) {
            super(run);
        }

        /** The value written by a single {@code out}, zero-extended (the first element of a string out). */
        public int value() {
            return (int) run.read(dataOffset(), size());
        }

        @Override
        public String kind() {
            return "io-out";
        }
    }

    /** The guest read from an I/O port ({@code in}, {@code ins}); answer with {@link #value(int)}. */
    final class IoIn extends Io implements VmExit {
        IoIn(RunPage run) {
            super(run);
        }

        /** Answers a single {@code in}: the low {@link #size()} bytes of {@code value}; for string input fills every element. */
        public void answer(int value) {
            int size = size();
            int at = dataOffset();
            for (int i = 0, n = count(); i < n; i++) {
                run.write(at + i * size, size, value);
            }
        }

        @Override
        public String kind() {
            return "io-in";
        }
    }

    /** MMIO common to both directions. */
    abstract sealed class Mmio permits MmioRead, MmioWrite {
        final RunPage run;

        Mmio(RunPage run) {
            this.run = run;
        }

        public int reason() {
            return RunPage.EXIT_MMIO;
        }

        /** The guest-physical address accessed. */
        public long address() {
            return run.page.getLong(RunPage.MMIO_PHYS_ADDR);
        }

        /** Bytes accessed: 1 to 8. */
        public int length() {
            return run.page.getInt(RunPage.MMIO_LEN);
        }

        @Override
        public String toString() {
            return String.format("%s addr=0x%x len=%d", ((VmExit) this).kind(), address(), length());
        }
    }

    /** The guest read unbacked guest-physical memory; answer with {@link #answer(long)}. */
    final class MmioRead extends Mmio implements VmExit {
        MmioRead(RunPage run) {
            super(run);
        }

        /** The value the guest reads: the low {@link #length()} bytes of {@code value}. */
        public void answer(long value) {
            run.write(RunPage.MMIO_DATA, Math.min(length(), 8), value);
        }

        @Override
        public String kind() {
            return "mmio-read";
        }
    }

    /** The guest wrote to unbacked guest-physical memory. */
    final class MmioWrite extends Mmio implements VmExit {
        MmioWrite(RunPage run) {
            super(run);
        }

        /** The value written, zero-extended. */
        public long value() {
            return run.read(RunPage.MMIO_DATA, Math.min(length(), 8));
        }

        @Override
        public String kind() {
            return "mmio-write";
        }

        @Override
        public String toString() {
            return super.toString() + String.format(" value=0x%x", value());
        }
    }

    /** The guest executed {@code hlt} and no interrupt can wake it (without an in-kernel irqchip). */
    final class Hlt implements VmExit {
        Hlt() {}

        @Override public int reason() { return RunPage.EXIT_HLT; }
        @Override public String kind() { return "hlt"; }
        @Override public String toString() { return kind(); }
    }

    /** The guest shut down: a triple fault, or a shutdown it asked for. */
    final class Shutdown implements VmExit {
        Shutdown() {}

        @Override public int reason() { return RunPage.EXIT_SHUTDOWN; }
        @Override public String kind() { return "shutdown"; }
        @Override public String toString() { return "shutdown (triple fault)"; }
    }

    /** The hardware refused to enter the guest, usually because of an invalid register state. */
    final class FailEntry implements VmExit {
        private final RunPage run;

        FailEntry(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_FAIL_ENTRY; }
        @Override public String kind() { return "fail-entry"; }

        /** The hardware's reason code (VMX: the VM-entry failure reason). */
        public long hardwareReason() {
            return run.page.getLong(RunPage.FAIL_ENTRY_REASON);
        }

        /** The host CPU that failed to enter. */
        public int cpu() {
            return run.page.getInt(RunPage.FAIL_ENTRY_CPU);
        }

        @Override
        public String toString() {
            return String.format("fail-entry hardware_reason=0x%x cpu=%d", hardwareReason(), cpu());
        }
    }

    /** KVM could not handle an exit itself, e.g. an instruction its emulator does not support. */
    final class InternalError implements VmExit {
        /** The suberror of an emulation failure. */
        public static final int EMULATION = RunPage.INTERNAL_ERROR_EMULATION;
        private final RunPage run;

        InternalError(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_INTERNAL_ERROR; }
        @Override public String kind() { return "internal-error"; }

        /** {@code KVM_INTERNAL_ERROR_*}: 1 emulation, 2 exception during exception delivery, ... */
        public int suberror() {
            return run.page.getInt(RunPage.INTERNAL_SUBERROR);
        }

        /** The error's extra data words (allocates). */
        public long[] data() {
            int n = Math.min(run.page.getInt(RunPage.INTERNAL_NDATA), 16);
            long[] data = new long[Math.max(n, 0)];
            for (int i = 0; i < data.length; i++) {
                data[i] = run.page.getLong(RunPage.INTERNAL_DATA + 8 * i);
            }
            return data;
        }

        /** For an emulation failure that carries them, the bytes of the failing instruction; else empty. */
        public byte[] instructionBytes() {
            boolean hasBytes = suberror() == EMULATION && run.page.getInt(RunPage.INTERNAL_NDATA) >= 3
                    && (run.page.getLong(RunPage.EMULATION_FLAGS) & 1) != 0;
            if (!hasBytes) {
                return new byte[0];
            }
            int n = Math.min(Byte.toUnsignedInt(run.page.get(RunPage.EMULATION_INSN_SIZE)), 15);
            byte[] bytes = new byte[n];
            run.page.get(RunPage.EMULATION_INSN_BYTES, bytes);
            return bytes;
        }

        /** A name for the suberror. */
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
            StringBuilder sb = new StringBuilder("internal-error: ").append(suberrorName());
            byte[] insn = instructionBytes();
            if (insn.length > 0) {
                sb.append(", instruction");
                for (byte b : insn) {
                    sb.append(String.format(" %02x", b));
                }
            }
            return sb.toString();
        }
    }

    /** A system-level event: the guest asked for shutdown, reset, or crashed. */
    final class SystemEvent implements VmExit {
        public static final int SHUTDOWN = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYSTEM_EVENT_SHUTDOWN");
        public static final int RESET = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYSTEM_EVENT_RESET");
        public static final int CRASH = dev.kvmctl.internal.bridge.Layout.intValue("KVM_SYSTEM_EVENT_CRASH");
        private final RunPage run;

        SystemEvent(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_SYSTEM_EVENT; }
        @Override public String kind() { return "system-event"; }

        /** {@link #SHUTDOWN}, {@link #RESET}, {@link #CRASH}, ... */
        public int type() {
            return run.page.getInt(RunPage.SYSTEM_EVENT_TYPE);
        }

        /** The first data word (the old {@code flags} field). */
        public long flags() {
            return run.page.getLong(RunPage.SYSTEM_EVENT_DATA);
        }

        @Override
        public String toString() {
            return "system-event type=" + type();
        }
    }

    /** A debug exit: a single step, a breakpoint or a watchpoint under {@code KVM_SET_GUEST_DEBUG}. */
    final class Debug implements VmExit {
        private final RunPage run;

        Debug(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_DEBUG; }
        @Override public String kind() { return "debug"; }

        /** The exception vector: 1 for #DB (single step, hardware breakpoint), 3 for #BP. */
        public int exception() {
            return run.page.getInt(RunPage.DEBUG_EXCEPTION);
        }

        /** The guest's instruction pointer at the exit. */
        public long pc() {
            return run.page.getLong(RunPage.DEBUG_PC);
        }

        public long dr6() {
            return run.page.getLong(RunPage.DEBUG_DR6);
        }

        public long dr7() {
            return run.page.getLong(RunPage.DEBUG_DR7);
        }

        @Override
        public String toString() {
            return String.format("debug exception=%d pc=0x%x dr6=0x%x", exception(), pc(), dr6());
        }
    }

    /** KVM_RUN was interrupted: {@link Vcpu#kick()}, {@code immediate_exit}, or a signal. */
    final class Interrupted implements VmExit {
        Interrupted() {}

        @Override public int reason() { return RunPage.EXIT_INTR; }
        @Override public String kind() { return "interrupted"; }
        @Override public String toString() { return kind(); }
    }

    /** The guest raised an exception KVM reports to user space ({@code KVM_EXIT_EXCEPTION}). */
    final class GuestException implements VmExit {
        private final RunPage run;

        GuestException(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_EXCEPTION; }
        @Override public String kind() { return "exception"; }

        public int vector() {
            return run.page.getInt(RunPage.EX_EXCEPTION);
        }

        public int errorCode() {
            return run.page.getInt(RunPage.EX_ERROR_CODE);
        }

        @Override
        public String toString() {
            return "exception vector=" + vector() + " error_code=" + errorCode();
        }
    }

    /** A hypercall KVM hands to user space ({@code KVM_EXIT_HYPERCALL}). */
    final class Hypercall implements VmExit {
        private final RunPage run;

        Hypercall(RunPage run) {
            this.run = run;
        }

        @Override public int reason() { return RunPage.EXIT_HYPERCALL; }
        @Override public String kind() { return "hypercall"; }

        public long number() {
            return run.page.getLong(RunPage.HYPERCALL_NR);
        }

        @Override
        public String toString() {
            return "hypercall nr=" + number();
        }
    }

    /** The guest can take an interrupt now (after {@code request_interrupt_window}). */
    final class IrqWindowOpen implements VmExit {
        IrqWindowOpen() {}

        @Override public int reason() { return RunPage.EXIT_IRQ_WINDOW_OPEN; }
        @Override public String kind() { return "irq-window-open"; }
        @Override public String toString() { return kind(); }
    }

    /** Any exit reason kvmctl has no type for, with its number. */
    final class Unknown implements VmExit {
        private final RunPage run;

        Unknown(RunPage run) {
            this.run = run;
        }

        @Override
        public int reason() {
            return run.exitReason();
        }

        @Override public String kind() { return "unknown"; }

        /** For {@code KVM_EXIT_UNKNOWN}, the hardware's exit reason. */
        public long hardwareExitReason() {
            return run.page.getLong(RunPage.HW_EXIT_REASON);
        }

        @Override
        public String toString() {
            return "unknown exit reason " + reason()
                    + (reason() == RunPage.EXIT_UNKNOWN ? String.format(" (hardware 0x%x)", hardwareExitReason()) : "");
        }
    }
}
