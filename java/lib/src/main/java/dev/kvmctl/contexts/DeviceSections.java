package dev.kvmctl.contexts;

import dev.kvmctl.guests.devices.DeviceState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The saved {@link DeviceState}s of a VM's device models (the {@code DEVICE_STATES} section of a
 * {@link HypervisorContext}), by name. Bytes: little-endian, the count (4), then per device its
 * name's length (4) and UTF-8 bytes, its version (4), its state's length (4) and bytes. Decoding
 * bounds every length by what is left before it allocates.
 *
 * <pre>{@code
 * List<DeviceState> devices = machine.deviceStates();
 * DeviceSections saved = new DeviceSections();
 * saved.capture(devices);
 * byte[] bytes = saved.encode();
 * DeviceSections.decode(bytes).restore(devices);   // ContextFormatException if they do not pair up
 * }</pre>
 */
final class DeviceSections {
    /** Names longer than this are refused: a name is a label, not data. */
    static final int MAX_NAME = 256;

    /** One device's saved state. */
    record Saved(int version, byte[] state) {}

    private final Map<String, Saved> saved = new LinkedHashMap<>();

    /** Saves every device's state, replacing what was saved; refuses two devices of one name. */
    void capture(List<? extends DeviceState> devices) {
        if (devices.isEmpty()) { // the usual case at a switch: allocate nothing
            saved.clear();
            return;
        }
        Map<String, Saved> now = new LinkedHashMap<>();
        for (DeviceState d : devices) {
            String name = checkName(d.name());
            byte[] state = d.save();
            if (state == null) {
                throw new IllegalArgumentException("device \"" + name + "\" saved null; a device with no state saves an empty array");
            }
            if (now.put(name, new Saved(d.version(), state.clone())) != null) {
                throw new IllegalArgumentException("two devices are named \"" + name + "\"; a device state needs a unique name");
            }
        }
        saved.clear();
        saved.putAll(now);
    }

    /**
     * Checks that {@code devices} are exactly the devices saved, by name, and that none was saved
     * at a version newer than the device's; nothing is restored.
     */
    void checkFits(List<? extends DeviceState> devices) {
        if (devices.isEmpty() && saved.isEmpty()) {
            return;
        }
        Set<String> names = new HashSet<>();
        for (DeviceState d : devices) {
            String name = d.name();
            if (!names.add(name)) {
                throw new IllegalArgumentException("two devices are named \"" + name + "\"; a device state needs a unique name");
            }
            Saved s = saved.get(name);
            if (s == null) {
                throw new ContextFormatException("the context holds no state for device \"" + name + "\"; it holds " + saved.keySet());
            }
            if (s.version() > d.version()) {
                throw new ContextFormatException("device \"" + name + "\" was saved at version " + s.version()
                        + ", newer than this device's " + d.version() + "; restore it with the VMM that saved it");
            }
        }
        for (String name : saved.keySet()) {
            if (!names.contains(name)) {
                throw new ContextFormatException("the context holds state for device \"" + name
                        + "\", which the target VM did not register; register it before restoring, or its state is lost");
            }
        }
    }

    /** Hands each device its saved state; {@link #checkFits} first. A device that refuses it fails the restore. */
    void restore(List<? extends DeviceState> devices) {
        checkFits(devices);
        for (DeviceState d : devices) {
            Saved s = saved.get(d.name());
            try {
                d.restore(s.version(), s.state().clone());
            } catch (IllegalArgumentException e) {
                throw new ContextFormatException("device \"" + d.name() + "\" refused its saved state (version " + s.version()
                        + ", " + s.state().length + " bytes): " + e.getMessage());
            }
        }
    }

    boolean isEmpty() {
        return saved.isEmpty();
    }

    /** {@return the names saved, in the order the devices were given} */
    List<String> names() {
        return new ArrayList<>(saved.keySet());
    }

    /** {@return the saved state of {@code name}, or null} */
    Saved get(String name) {
        return saved.get(name);
    }

    byte[] encode() {
        int size = 4;
        List<byte[]> names = new ArrayList<>();
        for (Map.Entry<String, Saved> e : saved.entrySet()) {
            byte[] n = e.getKey().getBytes(StandardCharsets.UTF_8);
            names.add(n);
            size += 4 + n.length + 4 + 4 + e.getValue().state().length;
        }
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(saved.size());
        int i = 0;
        for (Saved s : saved.values()) {
            byte[] n = names.get(i++);
            b.putInt(n.length).put(n).putInt(s.version()).putInt(s.state().length).put(s.state());
        }
        return b.array();
    }

    static DeviceSections decode(byte[] bytes) {
        ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        DeviceSections d = new DeviceSections();
        int count = readLength(b, "device count", 12, Integer.MAX_VALUE); // a device takes at least its three ints
        for (int i = 0; i < count; i++) {
            byte[] n = new byte[readLength(b, "device name", 1, MAX_NAME)];
            b.get(n);
            String name = new String(n, StandardCharsets.UTF_8);
            if (b.remaining() < 8) {
                throw new ContextFormatException("the device states end inside device \"" + name + "\"");
            }
            int version = b.getInt();
            byte[] state = new byte[readLength(b, "state of device \"" + name + "\"", 1, Integer.MAX_VALUE)];
            b.get(state);
            if (d.saved.put(name, new Saved(version, state)) != null) {
                throw new ContextFormatException("the device states name \"" + name + "\" twice");
            }
        }
        if (b.hasRemaining()) {
            throw new ContextFormatException("the device states have " + b.remaining() + " stray bytes at their end");
        }
        return d;
    }

    /** Reads a count of items of at least {@code perItem} bytes each, bounded by {@code cap} and by the bytes left. */
    private static int readLength(ByteBuffer b, String what, int perItem, int cap) {
        if (b.remaining() < 4) {
            throw new ContextFormatException("the device states end before the " + what);
        }
        int n = b.getInt();
        int max = Math.min(cap, b.remaining() / perItem);
        if (n < 0 || n > max) {
            throw new ContextFormatException("the device states are corrupted: " + what + " of " + n + " where at most " + max + " fit");
        }
        return n;
    }

    private static String checkName(String name) {
        if (name == null || name.isEmpty() || name.getBytes(StandardCharsets.UTF_8).length > MAX_NAME) {
            throw new IllegalArgumentException("a device state's name must be 1 to " + MAX_NAME + " bytes of UTF-8, got "
                    + (name == null ? "null" : "\"" + name + "\""));
        }
        return name;
    }
}
