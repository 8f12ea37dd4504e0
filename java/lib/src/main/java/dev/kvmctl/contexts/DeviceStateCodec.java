package dev.kvmctl.contexts;

import dev.kvmctl.guests.MachineCounters;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The byte format of a machine's {@link MachineCounters} (the {@code DEVICES} section of a
 * {@link HypervisorContext}): little-endian longs, the number of exit kinds, one count per kind in
 * {@link dev.kvmctl.VmExit.Kind} order, then unclaimed port reads and writes, unclaimed MMIO reads
 * and writes, and the run time in nanoseconds. New exit kinds only ever go at the end of
 * {@code Kind}, so a state saved by an older kvmctl (fewer kinds) reads with the missing kinds at
 * zero; one with more kinds than this kvmctl knows is refused whole.
 *
 * <pre>{@code
 * byte[] bytes = DeviceStateCodec.encode(machine.counters());
 * machine.restoreCounters(DeviceStateCodec.decode(bytes));
 * }</pre>
 */
final class DeviceStateCodec {
    /** The longs after the exit counts: four unclaimed-access counters and the run time. */
    private static final int TAIL = 5;
    private static final int SIZE = 8 * (1 + MachineCounters.KINDS + TAIL);

    private DeviceStateCodec() {}

    static byte[] encode(MachineCounters c) {
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(MachineCounters.KINDS);
        for (long count : c.exits()) {
            b.putLong(count);
        }
        b.putLong(c.unclaimedPortReads()).putLong(c.unclaimedPortWrites())
                .putLong(c.unclaimedMmioReads()).putLong(c.unclaimedMmioWrites()).putLong(c.runNanos());
        return b.array();
    }

    /** Decodes what {@link #encode} wrote; {@link ContextFormatException} if it does not fit this kvmctl. */
    static MachineCounters decode(byte[] state) {
        ByteBuffer b = ByteBuffer.wrap(state).order(ByteOrder.LITTLE_ENDIAN);
        long kinds = state.length >= 8 ? b.getLong() : -1;
        if (kinds < 1 || kinds > MachineCounters.KINDS || state.length != 8 * (1 + kinds + TAIL)) {
            throw new ContextFormatException("device state of " + state.length + " bytes counting " + kinds
                    + " exit kinds does not fit this kvmctl (at most " + MachineCounters.KINDS + " kinds)");
        }
        long[] exits = new long[MachineCounters.KINDS];
        for (int i = 0; i < kinds; i++) {
            exits[i] = b.getLong();
        }
        return new MachineCounters(exits, b.getLong(), b.getLong(), b.getLong(), b.getLong(), b.getLong());
    }
}
