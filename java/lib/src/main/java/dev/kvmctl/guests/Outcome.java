package dev.kvmctl.guests;

/**
 * How a guest's run ended, and the process exit status kvmctl gives it.
 *
 * <pre>{@code
 * RunResult r = machine.run(Duration.ofSeconds(10));
 * if (r.outcome() == Outcome.TIMED_OUT) { ... }
 * }</pre>
 */
public enum Outcome {
    /** The guest wrote its status to the exit port 0xf4. */
    EXITED,
    /** The guest executed {@code hlt} with nothing to wake it: status 0. */
    HALTED,
    /** The guest asked KVM for a shutdown or reset (a system event): status 0. */
    POWERED_OFF,
    /** Triple fault, internal KVM error, failed entry or an unexpected exit: status {@link #FAULT_STATUS}. */
    FAULTED,
    /** The run exceeded its time limit: status {@link #TIMEOUT_STATUS}. */
    TIMED_OUT,
    /** The host stopped it (for example to take a snapshot). */
    STOPPED,
    /**
     * The host could not go on running it: an exception or error on the thread that drove it (a
     * KVM call that failed, a device model that threw): status {@link #FAILED_STATUS}.
     */
    FAILED,
    /**
     * The host found the guest's memory corrupted and stopped it before it could go on with what
     * it read: a lazily restored snapshot whose memory failed its checksum, or whose file was
     * truncated while the guest ran ({@link Machine#stopCorrupted}): status
     * {@link #CORRUPTED_STATUS}.
     */
    CORRUPTED;

    /** Exit status for {@link #FAULTED}. */
    public static final int FAULT_STATUS = 125;
    /** Exit status for {@link #TIMED_OUT}, as GNU {@code timeout} uses. */
    public static final int TIMEOUT_STATUS = 124;
    /** Exit status for {@link #FAILED}: kvmctl's status for a KVM or host error. */
    public static final int FAILED_STATUS = 1;
    /** Exit status for {@link #CORRUPTED}. */
    public static final int CORRUPTED_STATUS = 122;
}
