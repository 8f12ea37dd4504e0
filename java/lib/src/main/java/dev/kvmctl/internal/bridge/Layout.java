package dev.kvmctl.internal.bridge;

import java.util.HashMap;
import java.util.Map;

/**
 * Struct sizes, field offsets and ABI constants, read once from the shim's layout table.
 *
 * <p>The values come from {@code offsetof}/{@code sizeof} in {@code native/src/layout.c}; Java
 * only names them. A name the shim does not know fails at class initialisation, not later with a
 * wrong offset.
 */
public final class Layout {
    private static final Map<String, Long> TABLE = load();

    private Layout() {}

    private static Map<String, Long> load() {
        NativeLibrary.ensureLoaded();
        int count = Shim.layoutCount();
        Map<String, Long> table = new HashMap<>(count * 2);
        for (int i = 0; i < count; i++) {
            table.put(Shim.layoutName(i), Shim.layoutValue(i));
        }
        return table;
    }

    /** The value of a named entry, such as {@code "kvm_run.io.port"} or {@code "KVM_EXIT_IO"}. */
    public static long value(String name) {
        Long value = TABLE.get(name);
        if (value == null) {
            throw new IllegalStateException("the native shim's layout table has no entry '" + name
                    + "': the jar and its native library do not match; rebuild with 'make'");
        }
        return value;
    }

    /** An offset or a small constant, as an int. */
    public static int intValue(String name) {
        return Math.toIntExact(value(name));
    }

    /** {@code sizeof(struct name)}. */
    public static int sizeOf(String struct) {
        return intValue("sizeof " + struct);
    }

    /** {@code offsetof(struct, field)}, where field may be a path such as {@code io.port}. */
    public static int offsetOf(String struct, String field) {
        return intValue(struct + "." + field);
    }

    /** Whether the table has an entry of that name (for constants newer kernels add). */
    public static boolean has(String name) {
        return TABLE.containsKey(name);
    }
}
