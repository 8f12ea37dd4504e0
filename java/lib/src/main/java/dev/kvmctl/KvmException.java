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
 *     assert e.errno() == 17;
 * }
 * }</pre>
 *
 * <p>Mistakes Java can see before asking the kernel (overlapping slots, out-of-range addresses,
 * closed objects) are refused with {@link IllegalArgumentException} or
 * {@link IllegalStateException} instead.
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
