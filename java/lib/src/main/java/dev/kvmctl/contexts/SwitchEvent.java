package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;

/**
 * One switch, as hooks see it.
 *
 * <pre>{@code
 * if (event.reason() == SwitchEvent.Reason.YIELD) { ... }
 * }</pre>
 *
 * @param machine the machine being switched out or in
 * @param number the switch's sequence number, from 1
 * @param reason why the previous slice ended
 */
public record SwitchEvent(Machine machine, long number, Reason reason) {
    /** Why a slice ended. */
    public enum Reason {
        /** The time quantum ran out. */
        QUANTUM,
        /** The guest yielded the CPU through the shared-memory ABI. */
        YIELD,
        /** The guest waits for another VM. */
        BLOCKED,
        /** The first time the machine is switched in. */
        START
    }
}
