package dev.kvmctl.guests;

import dev.kvmctl.VmExit;

/**
 * kvmctl's own accounting of a {@link Machine}, the part of its state that KVM does not hold: the
 * exits it took, the I/O no device claimed, its run time. (The serial port and debug port hold no
 * state between bytes; a blocked shared-memory call lives in its hub.) A context saves it with the
 * VM's state ({@link Machine#counters()}, {@link Machine#restoreCounters}); its byte format in
 * contexts and snapshots is {@code contexts.DeviceStateCodec}'s.
 *
 * <pre>{@code
 * MachineCounters c = machine.counters();
 * long outs = c.exits()[VmExit.Kind.IO_OUT.ordinal()];
 * }</pre>
 *
 * @param exits exits taken, indexed by {@link VmExit.Kind#ordinal()}: one entry per kind
 * @param unclaimedPortReads port reads no device claimed
 * @param unclaimedPortWrites port writes no device claimed
 * @param unclaimedMmioReads MMIO reads no device claimed
 * @param unclaimedMmioWrites MMIO writes no device claimed
 * @param runNanos time the guest ran, in nanoseconds (slices only)
 */
public record MachineCounters(long[] exits, long unclaimedPortReads, long unclaimedPortWrites, long unclaimedMmioReads,
                              long unclaimedMmioWrites, long runNanos) {
    /** How many kinds of exit are counted: the length of {@link #exits()}. */
    public static final int KINDS = VmExit.Kind.values().length;

    /**
     * Refuses an exit array that does not have one entry per {@link VmExit.Kind}.
     *
     * @param exits exits taken, indexed by {@link VmExit.Kind#ordinal()}: one entry per kind
     * @param unclaimedPortReads port reads no device claimed
     * @param unclaimedPortWrites port writes no device claimed
     * @param unclaimedMmioReads MMIO reads no device claimed
     * @param unclaimedMmioWrites MMIO writes no device claimed
     * @param runNanos time the guest ran, in nanoseconds (slices only)
     * @throws IllegalArgumentException if {@code exits} has another length
     */
    public MachineCounters {
        if (exits.length != KINDS) {
            throw new IllegalArgumentException(exits.length + " exit counts for " + KINDS + " kinds of exit");
        }
    }

    /** {@return the counters of a machine that has not run} */
    public static MachineCounters zero() {
        return new MachineCounters(new long[KINDS], 0, 0, 0, 0, 0);
    }
}
