package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.guests.devices.DeviceState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The device-state sections of a context: pairing by name, versions, and the byte format's checks (no KVM). */
class DeviceSectionsTest {
    /** A device whose state is a byte array, at a settable version; refuses states of another length. */
    static final class Register implements DeviceState {
        private final String name;
        private final int version;
        byte[] state;
        int restoredVersion = -1;

        Register(String name, int version, byte... state) {
            this.name = name;
            this.version = version;
            this.state = state;
        }

        @Override public String name() { return name; }
        @Override public int version() { return version; }
        @Override public byte[] save() { return state == null ? null : state.clone(); }

        @Override
        public void restore(int savedVersion, byte[] saved) {
            if (saved.length != state.length) {
                throw new IllegalArgumentException("expected " + state.length + " bytes");
            }
            state = saved;
            restoredVersion = savedVersion;
        }
    }

    @Test
    void statesGoBackToTheDevicesOfTheSameNameWithTheirVersion() {
        Register uart = new Register("uart", 2, (byte) 1, (byte) 2);
        Register rtc = new Register("rtc", 1, (byte) 9);
        DeviceSections saved = new DeviceSections();
        saved.capture(List.of(uart, rtc));
        DeviceSections back = DeviceSections.decode(saved.encode());
        assertEquals(List.of("uart", "rtc"), back.names());
        Register uart2 = new Register("uart", 3, (byte) 0, (byte) 0);
        Register rtc2 = new Register("rtc", 1, (byte) 0);
        back.restore(List.of(rtc2, uart2)); // any order: paired by name
        assertArrayEquals(new byte[] {1, 2}, uart2.state);
        assertEquals(2, uart2.restoredVersion, "told the version it was saved at");
        assertArrayEquals(new byte[] {9}, rtc2.state);
    }

    @Test
    void devicesThatDoNotPairUpAreRefusedBeforeAnyIsRestored() {
        DeviceSections saved = new DeviceSections();
        saved.capture(List.of(new Register("uart", 2, (byte) 1), new Register("rtc", 1, (byte) 2)));
        Register uart = new Register("uart", 2, (byte) 0);
        ContextFormatException missing = assertThrows(ContextFormatException.class, () -> saved.restore(List.of(uart)));
        assertEquals("the context holds state for device \"rtc\", which the target VM did not register; register it before "
                + "restoring, or its state is lost", missing.getMessage());
        assertEquals(0, uart.state[0], "nothing restored");
        ContextFormatException unknown = assertThrows(ContextFormatException.class,
                () -> saved.restore(List.of(uart, new Register("rtc", 1, (byte) 0), new Register("disk", 1))));
        assertTrue(unknown.getMessage().startsWith("the context holds no state for device \"disk\""), unknown.getMessage());
        ContextFormatException newer = assertThrows(ContextFormatException.class,
                () -> saved.restore(List.of(new Register("uart", 1, (byte) 0), new Register("rtc", 1, (byte) 0))));
        assertEquals("device \"uart\" was saved at version 2, newer than this device's 1; restore it with the VMM that saved it",
                newer.getMessage());
        ContextFormatException refused = assertThrows(ContextFormatException.class,
                () -> saved.restore(List.of(new Register("uart", 2, (byte) 0, (byte) 0), new Register("rtc", 1, (byte) 0))));
        assertTrue(refused.getMessage().startsWith("device \"uart\" refused its saved state (version 2, 1 bytes): expected 2 bytes"),
                refused.getMessage());
    }

    @Test
    void namesMustBeUniqueAndNonEmpty() {
        DeviceSections s = new DeviceSections();
        assertThrows(IllegalArgumentException.class, () -> s.capture(List.of(new Register("a", 1), new Register("a", 1))));
        assertThrows(IllegalArgumentException.class, () -> s.capture(List.of(new Register("", 1))));
        assertThrows(IllegalArgumentException.class, () -> s.capture(List.of(new Register("x".repeat(257), 1))));
        Register nothing = new Register("null", 1);
        nothing.state = null;
        assertThrows(IllegalArgumentException.class, () -> s.capture(List.of(nothing)));
        assertTrue(s.isEmpty(), "a refused capture keeps nothing");
    }

    @Test
    void damagedBytesAreRefusedSayingWhy() {
        DeviceSections saved = new DeviceSections();
        saved.capture(List.of(new Register("uart", 1, (byte) 7, (byte) 8)));
        byte[] good = saved.encode();
        // count 1 | name length 4 | "uart" | version 1 | state length 2 | 7 8
        assertEquals(4 + 4 + 4 + 4 + 4 + 2, good.length);
        Object[][] cases = {
            {new byte[0], "the device states end before the device count"},
            {patch(good, 0, -1), "the device states are corrupted: device count of -1 where at most 1 fit"},
            {patch(good, 0, 1000), "the device states are corrupted: device count of 1000 where at most 1 fit"},
            {patch(good, 4, 1 << 30), "the device states are corrupted: device name of 1073741824 where at most 14 fit"},
            {patch(good, 16, 3), "the device states are corrupted: state of device \"uart\" of 3 where at most 2 fit"},
            {java.util.Arrays.copyOf(good, good.length + 1), "the device states have 1 stray bytes at their end"},
            {java.util.Arrays.copyOf(good, 17), "the device states end inside device \"uart\""},
        };
        for (Object[] c : cases) {
            ContextFormatException e = assertThrows(ContextFormatException.class, () -> DeviceSections.decode((byte[]) c[0]));
            assertEquals(c[1], e.getMessage());
        }
    }

    private static byte[] patch(byte[] bytes, int at, int value) {
        byte[] copy = bytes.clone();
        ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN).putInt(at, value);
        return copy;
    }
}
