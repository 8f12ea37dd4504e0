package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Diff snapshots on the real /dev/kvm: a restored guest paused at each line of its output is
 * saved as a diff of the file before, and the base plus the chain restores it exactly, lazily and
 * by copying; a chain on the wrong base or in the wrong order, or a diff alone, is refused.
 */
class DiffSnapshotTest {
    private static final long ITERATIONS = 300;

    @TempDir
    static Path dir;
    private static Path base;
    /** The diffs taken at the first and second line the restored guest printed. */
    private static final List<Path> diffs = new ArrayList<>();
    private static String before;
    private static final List<String> atDiff = new ArrayList<>();
    private static String uninterrupted;

    @BeforeAll
    static void takeSnapshots() throws Exception {
        KvmAvailable.assumeKvm();
        ByteArrayOutputStream full = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", full, false, ITERATIONS)) {
            assertTrue(m.run(Duration.ofSeconds(60)).succeeded());
        }
        uninterrupted = full.toString();
        base = dir.resolve("base.snap");
        StopAfterLines out = new StopAfterLines(1);
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", out, false, ITERATIONS)) {
            out.stopping(m);
            assertEquals(Outcome.STOPPED, m.run(Duration.ofSeconds(60)).outcome());
            Snapshot.write(m, base, done -> {});
        }
        before = out.toString();
        // Restore it, pause at each of the next two lines and save a diff of the file before each time.
        PauseAtLines console = new PauseAtLines();
        try (Kvm kvm = Kvm.open()) {
            LazyRestore restore = LazyRestore.start(kvm, base, console);
            try (Machine m = restore.machine()) {
                console.machine = m;
                Path from = base;
                while (diffs.size() < 2) {
                    Machine.Slice slice = m.runSlice();
                    assertTrue(slice instanceof Machine.Preempted, "paused at a line: " + slice);
                    Path diff = dir.resolve("d" + (diffs.size() + 1) + ".diff");
                    DiffSnapshot.write(m, from, diff, done -> {});
                    diffs.add(diff);
                    atDiff.add(console.toString());
                    from = diff;
                }
            }
        }
    }

    @Test
    void aBaseAndAChainOfDiffsRestoreTheGuestExactly() throws Exception {
        for (int n = 1; n <= 2; n++) {
            ByteArrayOutputStream after = new ByteArrayOutputStream();
            try (Kvm kvm = Kvm.open()) {
                LazyRestore restore = LazyRestore.start(kvm, base, diffs.subList(0, n), after);
                assertTrue(restore.isLazy());
                try (Machine m = restore.machine()) {
                    RunResult r = m.run(Duration.ofSeconds(60));
                    assertTrue(r.succeeded(), r.detail());
                    assertTrue(restore.awaitVerified(Duration.ofSeconds(60)));
                    assertTrue(restore.isVerified(), restore.failure());
                }
            }
            assertEquals(uninterrupted, before + atDiff.get(n - 1) + after, "restored from the base and " + n + " diffs");
        }
        assertTrue(Files.size(diffs.get(0)) == Files.size(base), "a diff has the full length, its unchanged chunks are holes");
    }

    /** A diff holds only the chunks that changed: far fewer than the base's non-zero ones is not promised, but not all. */
    @Test
    void aDiffHoldsOnlyTheChunksThatChanged() throws Exception {
        Crafted.Header h = Crafted.header(diffs.get(0));
        MemoryIndex index = MemoryIndex.decode(Crafted.metadata(diffs.get(0)).get(MemoryIndex.SECTION), h.memorySize(), base);
        DiffSnapshot.Link link = DiffSnapshot.Link.decode(Crafted.metadata(diffs.get(0)).get(DiffSnapshot.SECTION), index, base);
        MemoryIndex baseIndex = MemoryIndex.decode(Crafted.metadata(base).get(MemoryIndex.SECTION), h.memorySize(), base);
        int stored = 0;
        for (int c = 0; c < index.count(); c++) {
            boolean changed = index.crc(c) != baseIndex.crc(c) || index.isZero(c) != baseIndex.isZero(c);
            assertEquals(changed, link.stored()[c], "chunk " + c);
            stored += link.stored()[c] ? 1 : 0;
        }
        assertTrue(stored > 0 && stored < index.count(), stored + " of " + index.count() + " chunks stored");
        assertEquals(baseIndex.id(), link.baseId());
    }

    @Test
    void aChainThatDoesNotFitItsBaseIsRefused() throws Exception {
        Path other = dir.resolve("other.snap");
        try (Kvm kvm = Kvm.open(); Machine hello = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false)) {
            Snapshot.write(hello, other, done -> {});
        }
        try (Kvm kvm = Kvm.open()) {
            assertMessage(kvm, other, List.of(diffs.get(0)), "was not taken from " + other);
            assertMessage(kvm, base, List.of(diffs.get(1)), "was not taken from " + base);            // the first diff left out
            assertMessage(kvm, base, List.of(diffs.get(1), diffs.get(0)), "was not taken from " + base); // wrong order
            assertMessage(kvm, base, List.of(base), "is a full snapshot, not a diff");
            assertMessage(kvm, diffs.get(0), List.of(), "is a diff snapshot");
            ContextFormatException e = assertThrows(ContextFormatException.class,
                    () -> Snapshot.restore(kvm, diffs.get(0), OutputStream.nullOutputStream()).close());
            assertTrue(e.getMessage().contains("is a diff snapshot"), e.getMessage());
        }
    }

    /** A diff whose section claims it does not hold a chunk that changed: refused before anything is built. */
    @Test
    void aDiffThatLeavesOutAChangedChunkIsRefused() throws Exception {
        Path f = dir.resolve("hollow.diff");
        Sections meta = Crafted.metadata(diffs.get(0));
        long memorySize = Crafted.header(diffs.get(0)).memorySize();
        MemoryIndex index = MemoryIndex.decode(meta.get(MemoryIndex.SECTION), memorySize, f);
        DiffSnapshot.Link link = DiffSnapshot.Link.decode(meta.get(DiffSnapshot.SECTION), index, f);
        boolean[] stored = link.stored().clone();
        int dropped = -1;
        for (int c = 0; c < stored.length && dropped < 0; c++) {
            if (stored[c]) {
                stored[c] = false;
                dropped = c;
            }
        }
        byte[] hollow = new DiffSnapshot.Link(link.baseId(), stored).encode();
        Crafted.rewrite(diffs.get(0), f, s -> s.put(DiffSnapshot.SECTION, hollow), memorySize);
        try (Kvm kvm = Kvm.open()) {
            assertMessage(kvm, base, List.of(f), "does not hold chunk " + dropped + ", yet its checksum differs from its base's");
        }
    }

    private static void assertMessage(Kvm kvm, Path first, List<Path> chain, String fragment) {
        ContextFormatException e = assertThrows(ContextFormatException.class,
                () -> LazyRestore.start(kvm, first, chain, OutputStream.nullOutputStream()).machine().close());
        assertTrue(e.getMessage().contains(fragment), () -> "expected '" + fragment + "' in: " + e.getMessage());
    }

    /** A console that pauses its machine (the slice ends, the guest can go on) at every line. */
    private static final class PauseAtLines extends ByteArrayOutputStream {
        volatile Machine machine;

        @Override
        public synchronized void write(int b) {
            super.write(b);
            if (b == '\n') {
                machine.wake();
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            for (int i = 0; i < len; i++) {
                write(b[off + i]);
            }
        }
    }
}
