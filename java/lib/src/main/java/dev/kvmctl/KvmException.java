package dev.kvmctl;

import jnr.constants.platform.Errno;

/**
 * The one exception kvmctl throws for a failed kernel operation: it names the operation (an ioctl
 * such as {@code KVM_SET_USER_MEMORY_REGION}, or a libc call such as {@code mmap}) and the errno.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open(); Vm vm = kvm.createVm()) {
 *     vm.createVcpu(0);
 *     vm.createVcpu(0);                  // the same id twice
 * } catch (KvmException e) {
 *     // prints: KVM_CREATE_VCPU failed: EEXIST (File exists). vCPU id 0 already exists in this VM
 *     System.err.println(e.getMessage());
 *     assert e.errnoName().equals("EEXIST");
 * }
 * }</pre>
 *
 * <h2 id="error-rule">The error rule</h2>
 *
 * <p>Every failure kvmctl reports is one of four unchecked exceptions, chosen by who has to act;
 * every message says what went wrong and what to do.
 * <ol>
 *   <li><b>{@code KvmException}</b>: the operating system refused a call kvmctl made for a kernel
 *       object: an ioctl on {@code /dev/kvm}, a VM or a vCPU, or one of the libc calls behind them
 *       ({@code open} of the device, {@code mmap}, {@code memfd_create}, {@code eventfd},
 *       {@code madvise}, {@code poll}; {@link GuestMemory#mapFile} opens its file this way too).
 *       {@link #operation()} names the call, {@link #errno()} and {@link #errnoName()} the errno.
 *       A capability the host lacks is one too, with {@link #NO_ERRNO}.</li>
 *   <li><b>{@link IllegalArgumentException}</b>: the caller's input is wrong, found before any
 *       kernel call: a value out of range, arguments that contradict each other or the object's
 *       configuration (overlapping memory slots, a struct too small), an input file that does not
 *       exist, is not a regular file or is malformed. Its subclasses say which input:
 *       {@link dev.kvmctl.guests.GuestImageException} (a guest image),
 *       {@link dev.kvmctl.contexts.ContextFormatException} (a snapshot or saved context). An index
 *       or offset outside what it indexes (register n of a struct, IOAPIC pin n, an offset into
 *       {@link GuestMemory}) is Java's {@link IndexOutOfBoundsException}, as for arrays.</li>
 *   <li><b>{@link IllegalStateException}</b>: the object cannot do this now: it is closed (a
 *       {@link Kvm}, {@link Vm}, {@link Vcpu}, {@link GuestMemory}, {@link EventFd}, or a
 *       {@link VmExit} of a closed vCPU), was closed while the call ran, or holds other state (an
 *       {@link dev.kvmctl.state.Irqchip} of the IOAPIC asked for a PIC register).</li>
 *   <li><b>{@link java.io.UncheckedIOException}</b>: reading or writing a file failed once it was
 *       accepted (a disk full, an I/O error, a console stream that failed); the message names the
 *       file where there is one.</li>
 * </ol>
 * Nothing else is thrown on purpose: any other exception is a bug in kvmctl.
 */
public final class KvmException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** errno value used when a failure is not an errno (a missing capability, a wrong API version). */
    public static final int NO_ERRNO = 0;

    /** The failed operation, as {@link #operation()} returns it. */
    private final String operation;
    /** The errno, as {@link #errno()} returns it. */
    private final int errno;

    /**
     * A failure of {@code operation} with {@code errno}, e.g. {@code ("KVM_RUN", 14)}; the message
     * names both, the errno by its symbol and description.
     *
     * @param operation the ioctl or libc call that failed, e.g. {@code KVM_RUN} or {@code mmap}
     * @param errno the positive errno, or {@link #NO_ERRNO}
     */
    public KvmException(String operation, int errno) {
        this(operation, errno, null);
    }

    /**
     * As {@link #KvmException(String, int)}, with a sentence that tells the user what to do.
     *
     * @param operation the ioctl or libc call that failed, e.g. {@code KVM_RUN} or {@code mmap}
     * @param errno the positive errno, or {@link #NO_ERRNO} for a failure that is not one
     * @param hint what went wrong in the user's terms and what to do, appended to the message;
     *     null for none
     */
    public KvmException(String operation, int errno, String hint) {
        super(format(operation, errno, hint));
        this.operation = operation;
        this.errno = errno;
    }

    /** {@return the failed operation, e.g. {@code KVM_SET_USER_MEMORY_REGION}} */
    public String operation() {
        return operation;
    }

    /** {@return the errno the kernel returned (positive), or {@link #NO_ERRNO}} */
    public int errno() {
        return errno;
    }

    /**
     * {@return the symbolic errno, e.g. {@code EEXIST}, or {@code "errno N"} for one this
     * platform does not name}
     */
    public String errnoName() {
        return errnoName(errno);
    }

    static String errnoName(int errno) {
        Errno e = Errno.valueOf(errno);
        return e == Errno.__UNKNOWN_CONSTANT__ ? "errno " + errno : e.name();
    }

    private static String format(String operation, int errno, String hint) {
        StringBuilder sb = new StringBuilder(operation);
        if (errno != NO_ERRNO) {
            Errno e = Errno.valueOf(errno);
            sb.append(" failed: ").append(errnoName(errno));
            if (e != Errno.__UNKNOWN_CONSTANT__) {
                sb.append(" (").append(e.description()).append(')');
            }
        }
        if (hint != null) {
            sb.append(errno != NO_ERRNO ? ". " : ": ").append(hint);
        }
        return sb.toString();
    }

    /** Returns {@code rc} when non-negative; otherwise throws for {@code operation} with errno {@code -rc}. */
    static int check(int rc, String operation) {
        if (rc < 0) {
            throw new KvmException(operation, -rc);
        }
        return rc;
    }
}
