package dev.kvmctl.contexts;

import dev.kvmctl.guests.Switchable;

/**
 * One switch, as hooks see it.
 *
 * <pre>{@code
 * SwitchHook yields = new SwitchHook() {
 *     public void beforeSwitchOut(SwitchEvent event) {
 *         if (event.reason() == SwitchEvent.Reason.YIELD) {
 *             System.err.println(event.guest().name() + " gave up the CPU");
 *         }
 *     }
 * };
 * }</pre>
 *
 * @param guest the guest (a {@code Machine}, or a VMM's own {@link Switchable}) being switched out or in
 * @param number the switch's sequence number, from 1; a switch-out carries the number of the
 *     switch-in that started its slice
 * @param reason why the previous slice ended: at a switch-out, the slice of {@code machine}; at a
 *     switch-in, the slice of the guest before it ({@link Reason#START} at a guest's first)
 */
public record SwitchEvent(Switchable guest, long number, Reason reason) {
    /** Why a slice ended. */
    public enum Reason {
        /** The time quantum ran out. */
        QUANTUM,
        /** The guest yielded the CPU through the shared-memory ABI. */
        YIELD,
        /** The guest waits for another VM. */
        BLOCKED,
        /** The first time the guest is switched in. */
        START
    }
}
