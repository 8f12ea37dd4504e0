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
 *     System.err.println(e.getMessage()); // KVM_CREATE_VCPU failed: EEXIST (File exists)
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

    private final String operation;
    private final int errno;

    /** A failure of {@code operation} with {@code errno}, e.g. {@code ("KVM_RUN", 14)}. */
    public KvmException(String operation, int errno) {
        this(operation, errno, null);
    }

    /** As {@link #KvmException(String, int)}, with a sentence that tells the user what to do. */
    public KvmException(String operation, int errno, String hint) {
        super(format(operation, errno, hint));
        this.operation = operation;
        this.errno = errno;
    }

    /** The failed operation, e.g. {@code KVM_SET_USER_MEMORY_REGION}. */
    public String operation() {
        return operation;
    }

    /** The errno the kernel returned, or {@link #NO_ERRNO}. */
    public int errno() {
        return errno;
    }

    /** The symbolic errno, e.g. {@code EEXIST}, or {@code "errno N"} for one this platform does not name. */
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
