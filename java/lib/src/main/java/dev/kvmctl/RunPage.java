package dev.kvmctl;

import dev.kvmctl.internal.Mapping;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.Memory;
import java.nio.ByteBuffer;

/**
 * The mapped {@code struct kvm_run} of one vCPU, read and written in place. Offsets come from the
 * native layout table once, here.
 *
 * <p>Every read and write goes through this class and checks that the vCPU is open, so a
 * {@link VmExit} kept past {@link Vcpu#close()} refuses with {@link IllegalStateException}. The check
 * alone would leave a window (checked, then the page unmapped by another thread, then read): the
 * page is a {@link Mapping}, which on close is replaced by a zero page rather than unmapped and is
 * unmapped only when this object (and every buffer derived from it) is unreachable. A reader that
 * loses the race reads zeros; nothing can read an unmapped address.
 */
final class RunPage {
    static final int IMMEDIATE_EXIT = Layout.offsetOf("kvm_run", "immediate_exit");
    static final int EXIT_REASON = Layout.offsetOf("kvm_run", "exit_reason");
    static final int IF_FLAG = Layout.offsetOf("kvm_run", "if_flag");
    static final int READY_FOR_INTERRUPT = Layout.offsetOf("kvm_run", "ready_for_interrupt_injection");
    static final int REQUEST_INTERRUPT_WINDOW = Layout.offsetOf("kvm_run", "request_interrupt_window");
    static final int HW_EXIT_REASON = Layout.offsetOf("kvm_run", "hw.hardware_exit_reason");
    static final int FAIL_ENTRY_REASON = Layout.offsetOf("kvm_run", "fail_entry.hardware_entry_failure_reason");
    static final int FAIL_ENTRY_CPU = Layout.offsetOf("kvm_run", "fail_entry.cpu");
    static final int EX_EXCEPTION = Layout.offsetOf("kvm_run", "ex.exception");
    static final int EX_ERROR_CODE = Layout.offsetOf("kvm_run", "ex.error_code");
    static final int IO_DIRECTION = Layout.offsetOf("kvm_run", "io.direction");
    static final int IO_SIZE = Layout.offsetOf("kvm_run", "io.size");
    static final int IO_PORT = Layout.offsetOf("kvm_run", "io.port");
    static final int IO_COUNT = Layout.offsetOf("kvm_run", "io.count");
    static final int IO_DATA_OFFSET = Layout.offsetOf("kvm_run", "io.data_offset");
    static final int DEBUG_EXCEPTION = Layout.offsetOf("kvm_run", "debug.arch.exception");
    static final int DEBUG_PC = Layout.offsetOf("kvm_run", "debug.arch.pc");
    static final int DEBUG_DR6 = Layout.offsetOf("kvm_run", "debug.arch.dr6");
    static final int DEBUG_DR7 = Layout.offsetOf("kvm_run", "debug.arch.dr7");
    static final int MMIO_PHYS_ADDR = Layout.offsetOf("kvm_run", "mmio.phys_addr");
    static final int MMIO_DATA = Layout.offsetOf("kvm_run", "mmio.data");
    static final int MMIO_LEN = Layout.offsetOf("kvm_run", "mmio.len");
    static final int MMIO_IS_WRITE = Layout.offsetOf("kvm_run", "mmio.is_write");
    static final int HYPERCALL_NR = Layout.offsetOf("kvm_run", "hypercall.nr");
    static final int INTERNAL_SUBERROR = Layout.offsetOf("kvm_run", "internal.suberror");
    static final int INTERNAL_NDATA = Layout.offsetOf("kvm_run", "internal.ndata");
    static final int INTERNAL_DATA = Layout.offsetOf("kvm_run", "internal.data");
    static final int EMULATION_FLAGS = Layout.offsetOf("kvm_run", "emulation_failure.flags");
    static final int EMULATION_INSN_SIZE = Layout.offsetOf("kvm_run", "emulation_failure.insn_size");
    static final int EMULATION_INSN_BYTES = Layout.offsetOf("kvm_run", "emulation_failure.insn_bytes");
    static final int SYSTEM_EVENT_TYPE = Layout.offsetOf("kvm_run", "system_event.type");
    static final int SYSTEM_EVENT_NDATA = Layout.offsetOf("kvm_run", "system_event.ndata");
    static final int SYSTEM_EVENT_DATA = Layout.offsetOf("kvm_run", "system_event.data");

    static final int HYPERCALL_ARGS = Layout.offsetOf("kvm_run", "hypercall.args");
    static final int HYPERCALL_RET = Layout.offsetOf("kvm_run", "hypercall.ret");
    static final int HYPERCALL_LONGMODE = Layout.offsetOf("kvm_run", "hypercall.longmode");
    static final int TPR_ACCESS_RIP = Layout.offsetOf("kvm_run", "tpr_access.rip");
    static final int TPR_ACCESS_IS_WRITE = Layout.offsetOf("kvm_run", "tpr_access.is_write");
    static final int EOI_VECTOR = Layout.offsetOf("kvm_run", "eoi.vector");
    static final int HYPERV_TYPE = Layout.offsetOf("kvm_run", "hyperv.type");
    static final int XEN_TYPE = Layout.offsetOf("kvm_run", "xen.type");
    static final int NOTIFY_FLAGS = Layout.offsetOf("kvm_run", "notify.flags");
    static final int MSR_ERROR = Layout.offsetOf("kvm_run", "msr.error");
    static final int MSR_REASON = Layout.offsetOf("kvm_run", "msr.reason");
    static final int MSR_INDEX = Layout.offsetOf("kvm_run", "msr.index");
    static final int MSR_DATA = Layout.offsetOf("kvm_run", "msr.data");
    static final int MSR_REASON_INVAL = Layout.intValue("KVM_MSR_EXIT_REASON_INVAL");
    static final int MSR_REASON_UNKNOWN = Layout.intValue("KVM_MSR_EXIT_REASON_UNKNOWN");
    static final int MSR_REASON_FILTER = Layout.intValue("KVM_MSR_EXIT_REASON_FILTER");
    static final int VALID_REGS = Layout.offsetOf("kvm_run", "kvm_valid_regs");
    static final int DIRTY_REGS = Layout.offsetOf("kvm_run", "kvm_dirty_regs");
    static final int SYNC_REGS = Layout.offsetOf("kvm_run", "s.regs");
    static final int SYNC_SREGS = Layout.offsetOf("kvm_run", "s.regs.sregs");
    static final int SYNC_EVENTS = Layout.offsetOf("kvm_run", "s.regs.events");
    /** The exit-data union: {@code char padding[256]} is its largest member. */
    static final int EXIT_UNION = Layout.offsetOf("kvm_run", "padding");
    static final int EXIT_UNION_SIZE = 256;

    static final int EXIT_UNKNOWN = Layout.intValue("KVM_EXIT_UNKNOWN");
    static final int EXIT_EXCEPTION = Layout.intValue("KVM_EXIT_EXCEPTION");
    static final int EXIT_IO = Layout.intValue("KVM_EXIT_IO");
    static final int EXIT_HYPERCALL = Layout.intValue("KVM_EXIT_HYPERCALL");
    static final int EXIT_DEBUG = Layout.intValue("KVM_EXIT_DEBUG");
    static final int EXIT_HLT = Layout.intValue("KVM_EXIT_HLT");
    static final int EXIT_MMIO = Layout.intValue("KVM_EXIT_MMIO");
    static final int EXIT_IRQ_WINDOW_OPEN = Layout.intValue("KVM_EXIT_IRQ_WINDOW_OPEN");
    static final int EXIT_SHUTDOWN = Layout.intValue("KVM_EXIT_SHUTDOWN");
    static final int EXIT_FAIL_ENTRY = Layout.intValue("KVM_EXIT_FAIL_ENTRY");
    static final int EXIT_INTR = Layout.intValue("KVM_EXIT_INTR");
    static final int EXIT_INTERNAL_ERROR = Layout.intValue("KVM_EXIT_INTERNAL_ERROR");
    static final int EXIT_SYSTEM_EVENT = Layout.intValue("KVM_EXIT_SYSTEM_EVENT");
    static final int EXIT_IO_OUT = Layout.intValue("KVM_EXIT_IO_OUT");
    static final int INTERNAL_ERROR_EMULATION = Layout.intValue("KVM_INTERNAL_ERROR_EMULATION");
    static final int EXIT_SET_TPR = Layout.intValue("KVM_EXIT_SET_TPR");
    static final int EXIT_TPR_ACCESS = Layout.intValue("KVM_EXIT_TPR_ACCESS");
    static final int EXIT_NMI = Layout.intValue("KVM_EXIT_NMI");
    static final int EXIT_IOAPIC_EOI = Layout.intValue("KVM_EXIT_IOAPIC_EOI");
    static final int EXIT_HYPERV = Layout.intValue("KVM_EXIT_HYPERV");
    static final int EXIT_X86_RDMSR = Layout.intValue("KVM_EXIT_X86_RDMSR");
    static final int EXIT_X86_WRMSR = Layout.intValue("KVM_EXIT_X86_WRMSR");
    static final int EXIT_DIRTY_RING_FULL = Layout.intValue("KVM_EXIT_DIRTY_RING_FULL");
    static final int EXIT_AP_RESET_HOLD = Layout.intValue("KVM_EXIT_AP_RESET_HOLD");
    static final int EXIT_X86_BUS_LOCK = Layout.intValue("KVM_EXIT_X86_BUS_LOCK");
    static final int EXIT_XEN = Layout.intValue("KVM_EXIT_XEN");
    static final int EXIT_NOTIFY = Layout.intValue("KVM_EXIT_NOTIFY");
    /** The exit reasons the headers define for other architectures, by number. */
    private static final java.util.Map<Integer, String> OTHER_ARCHITECTURES = otherArchitectures();

    private static java.util.Map<Integer, String> otherArchitectures() {
        java.util.Map<Integer, String> names = new java.util.HashMap<>();
        for (String name : new String[] {"S390_SIEIC", "S390_RESET", "DCR", "OSI", "PAPR_HCALL", "S390_UCONTROL",
                "WATCHDOG", "S390_TSCH", "EPR", "S390_STSI", "ARM_NISV", "RISCV_SBI", "RISCV_CSR"}) {
            names.put(Layout.intValue("KVM_EXIT_" + name), "KVM_EXIT_" + name);
        }
        return java.util.Map.copyOf(names);
    }

    /** Whether {@code reason} is another architecture's exit. */
    static boolean isOtherArchitecture(int reason) {
        return OTHER_ARCHITECTURES.containsKey(reason);
    }

    /** The kernel's name of another architecture's exit reason, or {@code "KVM_EXIT <n>"}. */
    static String exitName(int reason) {
        return OTHER_ARCHITECTURES.getOrDefault(reason, "KVM_EXIT " + reason);
    }

    /** Copies the first {@code min(into.length, 256)} bytes of the exit-data union. */
    static void copyUnion(RunPage run, byte[] into) {
        byte[] all = into.length == EXIT_UNION_SIZE ? into : new byte[EXIT_UNION_SIZE];
        run.get(EXIT_UNION, all);
        if (all != into) {
            System.arraycopy(all, 0, into, 0, Math.min(into.length, EXIT_UNION_SIZE));
        }
    }

    private final Mapping mapping;
    /** The whole mapped region; its views keep it reachable, and it keeps the mapping. */
    private final ByteBuffer page;
    private final String owner;
    private volatile boolean closed;

    /** Takes over the {@code size} bytes mapped at {@code address} from the vCPU fd of {@code owner}. */
    RunPage(long address, int size, String owner) {
        this.mapping = new Mapping(address, size);
        this.page = mapping.anchor(Memory.wrap(address, size));
        this.owner = owner;
    }

    /** Refuses every later access, then lets go of the page (see the class comment). */
    void close() {
        closed = true;
        mapping.retire();
    }

    boolean isClosed() {
        return closed;
    }

    private void check() {
        if (closed) {
            throw new IllegalStateException(owner + " is closed: its exits and kvm_run page can no longer be read");
        }
    }

    int exitReason() {
        return getInt(EXIT_REASON);
    }

    byte get(int offset) {
        check();
        return page.get(offset);
    }

    short getShort(int offset) {
        check();
        return page.getShort(offset);
    }

    int getInt(int offset) {
        check();
        return page.getInt(offset);
    }

    long getLong(int offset) {
        check();
        return page.getLong(offset);
    }

    void put(int offset, byte value) {
        check();
        page.put(offset, value);
    }

    void putInt(int offset, int value) {
        check();
        page.putInt(offset, value);
    }

    void putLong(int offset, long value) {
        check();
        page.putLong(offset, value);
    }

    /** Copies {@code length} bytes at {@code offset} to native memory at {@code address}. */
    void copyOut(int offset, long address, int length) {
        check();
        Memory.copy(Memory.addressOf(page) + offset, address, length);
    }

    /** Copies {@code length} bytes from native memory at {@code address} to {@code offset}. */
    void copyIn(long address, int offset, int length) {
        check();
        Memory.copy(address, Memory.addressOf(page) + offset, length);
    }

    /**
     * The native address of {@code offset}, for an ioctl that reads a struct in the page: valid
     * while this object is reachable, and readable (as zeros) even after {@link #close()}.
     */
    long address(int offset) {
        check();
        return Memory.addressOf(page) + offset;
    }

    /** Copies {@code dst.length} bytes at {@code offset}. */
    void get(int offset, byte[] dst) {
        check();
        page.get(offset, dst);
    }

    /** A little-endian view of {@code length} bytes at {@code offset} (reads zeros once closed). */
    ByteBuffer slice(int offset, int length) {
        check();
        return page.slice(offset, length).order(page.order());
    }

    /** A read-only little-endian view of the whole region (reads zeros once closed). */
    ByteBuffer readOnlyView() {
        check();
        return page.asReadOnlyBuffer().order(page.order());
    }

    /** Reads {@code size} (1, 2, 4 or 8) bytes at {@code offset}, little-endian, zero-extended. */
    long read(int offset, int size) {
        check();
        switch (size) {
            case 1: return Byte.toUnsignedLong(page.get(offset));
            case 2: return Short.toUnsignedLong(page.getShort(offset));
            case 4: return Integer.toUnsignedLong(page.getInt(offset));
            case 8: return page.getLong(offset);
            default: {
                long v = 0;
                for (int i = Math.min(size, 8) - 1; i >= 0; i--) {
                    v = (v << 8) | Byte.toUnsignedLong(page.get(offset + i));
                }
                return v;
            }
        }
    }

    /** Writes the low {@code size} bytes of {@code value} at {@code offset}, little-endian. */
    void write(int offset, int size, long value) {
        check();
        switch (size) {
            case 1: page.put(offset, (byte) value); break;
            case 2: page.putShort(offset, (short) value); break;
            case 4: page.putInt(offset, (int) value); break;
            case 8: page.putLong(offset, value); break;
            default:
                for (int i = 0; i < size; i++) {
                    page.put(offset + i, (byte) (value >>> (8 * i)));
                }
        }
    }
}
