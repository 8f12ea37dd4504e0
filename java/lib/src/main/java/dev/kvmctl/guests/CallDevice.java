package dev.kvmctl.guests;

/**
 * A device reached through one I/O port whose calls may have to wait for another VM: the
 * shared-memory hub's RECV, for example. {@link Machine} hands it the port writes; when a call
 * must wait, the machine's driver either blocks its thread ({@link #await}) or, in one-thread
 * mode, runs other VMs until {@link #ready} says the call can go on.
 *
 * <p>A device whose calls never wait is simple; this one counts them:
 *
 * <pre>{@code
 * CallDevice counter = new CallDevice() {
 *     private long calls;
 *     public Progress call(Machine m, int value) { calls++; return Progress.DONE; }
 *     public Progress resume(Machine m) { return Progress.DONE; }
 *     public boolean ready(Machine m) { return true; }
 *     public void await(Machine m) { }
 *     public void awaitAny(List<Machine> blocked, int timeoutMillis) { }
 *     public void wake(Machine m) { }
 *     public void ended(Machine m) { System.out.println(m.name() + " made " + calls + " calls"); }
 * };
 * machine.setCallDevice(0x510, counter);
 * }</pre>
 *
 * <p>{@link dev.kvmctl.guests.shm.SharedMemoryHub#connect} installs the hub this way on each of
 * its machines.
 */
public interface CallDevice {
    /** What a call came to. */
    enum Progress {
        /** The call is complete: the guest goes on. */
        DONE,
        /** The call must wait for another VM: the driver runs others, or waits, then {@link #resume}s it. */
        BLOCKED,
        /** The call is complete, and the guest offers the CPU to another VM (a one-thread driver switches). */
        YIELD
    }

    /**
     * The guest wrote {@code value} to the call port. Runs on the machine's thread, between two
     * KVM_RUNs; the guest's RAM ({@link Machine#ram()}) is where a call's arguments usually are.
     *
     * @param machine the caller
     * @param value what the guest wrote (for the shared-memory hub, its mailbox's address)
     * @return whether the call is done, must wait, or yields
     */
    Progress call(Machine machine, int value);

    /**
     * Continues a call that returned {@link Progress#BLOCKED}, once the driver thinks it may go on.
     *
     * @param machine the caller
     * @return {@link Progress#BLOCKED} again if it still cannot
     */
    Progress resume(Machine machine);

    /**
     * Says whether a blocked call can make progress now, without waiting: a one-thread driver
     * asks before it runs the machine again.
     *
     * @param machine the caller
     * @return true if {@link #resume} would not block again
     */
    boolean ready(Machine machine);

    /**
     * Blocks the calling thread until the blocked call may be ready, or {@link #wake} is called.
     *
     * @param machine the caller, whose own thread this is
     */
    void await(Machine machine);

    /**
     * Blocks until one of the {@code blocked} machines may be ready, or {@code timeoutMillis}
     * passes: the one-thread switcher's idle wait when every VM waits on another.
     *
     * @param blocked the machines whose calls are blocked
     * @param timeoutMillis the longest wait; negative for no limit
     */
    void awaitAny(java.util.List<Machine> blocked, int timeoutMillis);

    /**
     * Makes a thread in {@link #await} return (for stops, timeouts and switches); safe from any thread.
     *
     * @param machine the machine whose waiting thread to wake
     */
    void wake(Machine machine);

    /**
     * The machine's guest has ended (or its machine was closed first): release what it holds and
     * wake peers that wait on it. Called once per machine.
     *
     * @param machine the machine that ended
     */
    void ended(Machine machine);
}
