package dev.kvmctl.internal.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jnr.constants.platform.Errno;
import jnr.constants.platform.OpenFlags;
import org.junit.jupiter.api.Test;

/**
 * errno values and libc flags come from the layout table the C compiler fills; errno names and
 * descriptions in messages come from jnr-constants. The two sources agree, and no Java source in
 * the binding types an errno number by hand.
 */
class LibcConstantsTest {
    @Test
    void everyErrnoInTheLayoutTableIsJnrConstantsValue() throws IllegalAccessException {
        int checked = 0;
        for (Field f : LibC.class.getFields()) {
            if (f.getName().matches("E[A-Z0-9]+") && f.getType() == int.class) {
                Errno jnr = Errno.valueOf(f.getName());
                assertEquals(jnr.intValue(), f.getInt(null), f.getName() + ": layout table vs jnr-constants");
                assertEquals(Layout.value(f.getName()), f.getInt(null), f.getName());
                checked++;
            }
        }
        assertTrue(checked >= 10, "LibC's errno constants were found: " + checked);
        for (String name : List.of("EIO", "EBADF", "EBUSY", "ENOSPC", "ERANGE", "ENOSYS", "EOPNOTSUPP")) {
            assertEquals(Errno.valueOf(name).intValue(), Layout.value(name), name);
        }
    }

    @Test
    void openFlagsAgreeWithJnrConstants() throws IllegalAccessException {
        for (String name : List.of("O_RDONLY", "O_RDWR", "O_CLOEXEC", "O_NONBLOCK", "O_NOCTTY")) {
            Field f = fieldOf(name);
            assertEquals(OpenFlags.valueOf(name).intValue(), f.getInt(null), name);
        }
    }

    @Test
    void everyLibcFlagComesFromTheLayoutTable() throws IllegalAccessException {
        for (Field f : LibC.class.getFields()) {
            if (Modifier.isStatic(f.getModifiers()) && (f.getType() == int.class || f.getType() == short.class)) {
                assertEquals(Layout.value(f.getName()), ((Number) f.get(null)).longValue(), f.getName());
            }
        }
    }

    /** The binding's sources compare errno against names, never numbers (as {@code errno == 4} did). */
    @Test
    void noErrnoNumberIsTypedByHand() throws Exception {
        Path main = Path.of("src/main/java/dev/kvmctl");
        StringBuilder names = new StringBuilder();
        for (Errno e : Errno.values()) {
            if (e.defined()) {
                names.append(names.length() == 0 ? "" : "|").append(e.name());
            }
        }
        Pattern literal = Pattern.compile("(errno\\s*==\\s*|-rc\\s*==\\s*|\\brc\\s*==\\s*-|-raw\\s*==\\s*|-vm\\s*==\\s*|\\b(?:"
                + names + ")\\s*=\\s*)(\\d+)");
        try (var files = Files.walk(main)) {
            for (Path p : files.filter(x -> x.toString().endsWith(".java")).toList()) {
                Matcher m = literal.matcher(Files.readString(p));
                boolean found = m.find();
                assertTrue(!found, () -> p + " types an errno by hand: " + m.group());
            }
        }
    }

    private static Field fieldOf(String name) {
        try {
            return LibC.class.getField(name);
        } catch (NoSuchFieldException e) {
            throw new AssertionError(name, e);
        }
    }
}
