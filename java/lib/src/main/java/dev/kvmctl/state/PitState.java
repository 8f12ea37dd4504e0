package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;
import java.util.Objects;

/**
 * The in-kernel PIT's state ({@code struct kvm_pit_state2}): its three channels and flags. Every
 * field of every channel is readable and settable through {@link #channel(int, ChannelField)}.
 *
 * <pre>{@code
 * PitState pit = vm.getPit(new PitState());
 * long mode = pit.channel(0, PitState.ChannelField.MODE);
 * vm.setPit(pit.channel(0, PitState.ChannelField.COUNT, 0x1000));
 * }</pre>
 */
public final class PitState extends KvmStruct {
    /** {@link #flags()} bit: the HPET replaces the PIT (legacy replacement), its interrupts off. */
    public static final int FLAGS_HPET_LEGACY = Layout.intValue("KVM_PIT_FLAGS_HPET_LEGACY");
    /** {@link #flags()} bit: the PC speaker's data line is on. */
    public static final int FLAGS_SPEAKER_DATA_ON = Layout.intValue("KVM_PIT_FLAGS_SPEAKER_DATA_ON");
    private static final int CHANNELS = Layout.offsetOf("kvm_pit_state2", "channels");
    private static final int CHANNEL_SIZE = Layout.sizeOf("kvm_pit_channel_state");
    /** How many channels the PIT has (3: 0 the timer interrupt, 1 memory refresh, 2 the speaker). */
    public static final int CHANNEL_COUNT = Layout.intValue("sizeof kvm_pit_state2.channels") / CHANNEL_SIZE;
    private static final int FLAGS = Layout.offsetOf("kvm_pit_state2", "flags");

    /** The fields of one channel ({@code struct kvm_pit_channel_state}). */
    public enum ChannelField {
        /** {@code count}: the initial count loaded (1 to 65536; 65536 written as 0). */
        COUNT("count"),
        /** {@code latched_count}: the count latched by a counter-latch command. */
        LATCHED_COUNT("latched_count"),
        /** {@code count_latched}: which bytes of the latched count are still to be read. */
        COUNT_LATCHED("count_latched"),
        /** {@code status_latched}: whether a status byte is latched (read-back command). */
        STATUS_LATCHED("status_latched"),
        /** {@code status}: the latched status byte. */
        STATUS("status"),
        /** {@code read_state}: which byte the next read returns (low, high, word). */
        READ_STATE("read_state"),
        /** {@code write_state}: which byte the next write sets (low, high, word). */
        WRITE_STATE("write_state"),
        /** {@code write_latch}: the low byte written, waiting for the high one. */
        WRITE_LATCH("write_latch"),
        /** {@code rw_mode}: the access mode of the control word (1 low, 2 high, 3 low then high). */
        RW_MODE("rw_mode"),
        /** {@code mode}: the counting mode, 0 to 5. */
        MODE("mode"),
        /** {@code bcd}: whether the counter counts in BCD. */
        BCD("bcd"),
        /** {@code gate}: the gate input. */
        GATE("gate"),
        /** {@code count_load_time}: when the count was loaded: host monotonic time in nanoseconds (signed). */
        COUNT_LOAD_TIME("count_load_time");

        private final int offset;
        private final int size;

        ChannelField(String field) {
            this.offset = Layout.offsetOf("kvm_pit_channel_state", field);
            this.size = Layout.intValue("sizeof kvm_pit_channel_state." + field);
        }
    }

    /** A zeroed {@code struct kvm_pit_state2}, to fill with {@link dev.kvmctl.Vm#getPit(PitState)}. */
    public PitState() {
        super(Layout.sizeOf("kvm_pit_state2"));
    }

    /**
     * {@return a field of channel {@code channel}: unsigned, but {@link ChannelField#COUNT_LOAD_TIME} signed}
     *
     * @param channel 0 to {@link #CHANNEL_COUNT} - 1
     * @param field the field
     * @throws IndexOutOfBoundsException for any other channel
     */
    public long channel(int channel, ChannelField field) {
        int at = at(channel, field);
        return switch (field.size) {
            case 1 -> Byte.toUnsignedLong(buffer.get(at));
            case 2 -> Short.toUnsignedLong(buffer.getShort(at));
            case 4 -> Integer.toUnsignedLong(buffer.getInt(at));
            default -> buffer.getLong(at);
        };
    }

    /**
     * Sets a field of channel {@code channel}.
     *
     * @param channel 0 to {@link #CHANNEL_COUNT} - 1
     * @param field the field
     * @param value the new value; as many low bits as the field has are stored
     * @return this struct
     * @throws IndexOutOfBoundsException for any other channel
     */
    public PitState channel(int channel, ChannelField field, long value) {
        int at = at(channel, field);
        switch (field.size) {
            case 1 -> buffer.put(at, (byte) value);
            case 2 -> buffer.putShort(at, (short) value);
            case 4 -> buffer.putInt(at, (int) value);
            default -> buffer.putLong(at, value);
        }
        return this;
    }

    private static int at(int channel, ChannelField field) {
        return CHANNELS + CHANNEL_SIZE * Objects.checkIndex(channel, CHANNEL_COUNT) + field.offset;
    }

    /** {@return the flags: {@link #FLAGS_HPET_LEGACY}, {@link #FLAGS_SPEAKER_DATA_ON}} */
    public int flags() { return buffer.getInt(FLAGS); }

    /**
     * Sets the flags.
     *
     * @param v {@link #FLAGS_HPET_LEGACY} and/or {@link #FLAGS_SPEAKER_DATA_ON}
     * @return this struct
     */
    public PitState flags(int v) { buffer.putInt(FLAGS, v); return this; }
}
