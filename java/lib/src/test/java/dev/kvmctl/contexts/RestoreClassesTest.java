package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link LazyRestore#loadClasses()}'s list names classes that exist: a class renamed or removed
 * since {@code scripts/restore-classes.sh} made the list fails here (run the script again), rather
 * than quietly costing a restore its time again.
 */
class RestoreClassesTest {
    private static List<String> listed() throws IOException {
        try (InputStream in = LazyRestore.class.getResourceAsStream(LazyRestore.CLASS_LIST)) {
            assertNotNull(in, LazyRestore.CLASS_LIST + " is not beside LazyRestore in the jar");
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            List<String> names = new ArrayList<>();
            for (String line = r.readLine(); line != null; line = r.readLine()) {
                names.add(line);
            }
            return names;
        }
    }

    @Test
    void everyListedClassExists() throws IOException {
        List<String> names = listed();
        assertTrue(names.size() > 100, "the list holds " + names.size() + " classes: was it made from a whole restore?");
        assertTrue(names.contains(LazyRestore.class.getName()), "the list starts where a restore does");
        List<String> missing = new ArrayList<>();
        for (String name : names) {
            try {
                Class.forName(name, false, LazyRestore.class.getClassLoader());
            } catch (ClassNotFoundException e) {
                missing.add(name);
            }
        }
        assertEquals(List.of(), missing, "classes the list names that no longer exist: run scripts/restore-classes.sh");
    }

    @Test
    void loadClassesLoadsAndInitializesTheWholeList() throws IOException {
        // Tests run one at a time in this JVM, so no other thread initializes classes meanwhile.
        assertEquals(listed().size(), LazyRestore.loadClasses());
    }
}
