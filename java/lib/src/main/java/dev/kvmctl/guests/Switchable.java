package dev.kvmctl.guests;

import dev.kvmctl.Vm;
import dev.kvmctl.guests.devices.DeviceState;
import java.util.List;

/**
 * Something a switcher ({@code dev.kvmctl.contexts.Switcher}) can time-slice and switch: it runs
 * one slice at a time on the caller's thread, can be interrupted from another thread, and exposes
 * the kernel objects and device states its context is captured from and restored into.
 * {@link Machine} is kvmctl's implementation; a VMM with its own {@link Vm} writes its own.
 *
 * <pre>{@code
 * List<Switchable> guests = List.of(machine);   // and guests of your own VMM, in the same list
 * Switcher switcher = new Switcher(guests, Duration.ofMillis(1));
 * switcher.addHook(new ContextSwitchHook(SwitchMode.COLD));
 * switcher.run(Duration.ofSeconds(30));
 * }</pre>
 *
 * <p>All methods but {@link #kick()} are called on the switcher's thread, never while
 * {@link #runSlice()} runs.
 */
public interface Switchable {
    /** {@return what reports and hooks call it} */
    String name();

    /**
     * Runs the guest until it ends ({@link Machine.Finished}), is interrupted by {@link #kick()}
     * ({@link Machine.Preempted}), or must wait for something outside it ({@link Machine.Blocked}).
     *
     * @return how the slice ended
     */
    Machine.Slice runSlice();

    /** Makes the slice now running, or the next one, return soon; safe from any thread. */
    void kick();

    /** Forgets a {@link #kick()} that landed after the slice it was meant for ended. */
    void clearKick();

    /**
     * {@return whether a guest whose last slice ended {@link Machine.Blocked} can run again} Not
     * asked of a guest that did not block. This default says always.
     */
    default boolean ready() {
        return true;
    }

    /** {@return whether the guest has ended; one that has is never run or switched again} */
    boolean finished();

    /** {@return how it ended, or null until it has} */
    RunResult result();

    /**
     * Ends the guest because running or switching it threw {@code cause}; never throws.
     *
     * @param cause what went wrong
     * @return the result; the earlier one if it had already ended
     */
    RunResult fail(Throwable cause);

    /**
     * Ends the guest because the switcher's time limit passed.
     *
     * @param detail why, for the result
     * @return the result; the earlier one if it had already ended
     */
    RunResult timeOut(String detail);

    /**
     * {@return the VM its context lives in now, with its vCPUs in creation order}
     *
     * @throws IllegalStateException if it has none (closed, or between {@link #discardVm()} and
     *     {@link #rebuildVm()})
     */
    Vm requireVm();

    /** {@return the device models whose state goes with its context, by unique name (empty for none)} */
    List<DeviceState> deviceStates();

    /**
     * Finishes an I/O exit the last slice ended on, so every vCPU's state is complete before a
     * capture (on hardware KVM an {@code out} is finished only by the next {@code KVM_RUN}).
     */
    void completePendingIo();

    /** Closes its VM and vCPUs, keeping its memory: a cold switch-out. */
    void discardVm();

    /**
     * Gives it a brand-new VM over the same memory with the same vCPUs (in their reset state) and
     * wiring, ready for a context to be restored into: a cold switch-in.
     */
    void rebuildVm();
}
