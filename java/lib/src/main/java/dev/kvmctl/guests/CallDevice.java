package dev.kvmctl.guests;

/**
 * A device reached through one I/O port whose calls may have to wait for another VM: the
 * shared-memory hub's RECV, for example. {@link Machine} hands it the port writes; when a call
 * must wait, the machine's driver either blocks its thread ({@link #await}) or, in one-thread
 * mode, runs other VMs until {@link #ready} says the call can go on.
 *
 * <pre>{@code
 * machine.setCallDevice(0x510, hub.endpoint(0));
 * }</pre>
 */
public interface CallDevice {
    /** What a call came to: done; must wait for another VM; or done, and the guest offers the CPU to another VM. */
    enum Progress { DONE, BLOCKED, YIELD }

    /** The guest wrote {@code value} to the call port. */
    Progress call(Machine machine, int value);

    /** Continues a call that returned {@link Progress#BLOCKED}. */
    Progress resume(Machine machine);

    /** Whether a blocked call can make progress now, without waiting. */
    boolean ready(Machine machine);

    /** Blocks the calling thread until the blocked call may be ready, or {@link #wake} is called. */
    void await(Machine machine);

    /**
     * Blocks until one of the {@code blocked} machines may be ready, or {@code timeoutMillis}
     * passes: the one-thread switcher's idle wait when every VM waits on another.
     */
    void awaitAny(java.util.List<Machine> blocked, int timeoutMillis);

    /** Makes a thread in {@link #await} return (for stops, timeouts and switches). */
    void wake(Machine machine);

    /** The machine's guest has ended: release what it holds. */
    void ended(Machine machine);
}
