package dev.kvmctl.cli;

import com.google.common.util.concurrent.Uninterruptibles;
import dev.kvmctl.contexts.LazyRestore;
import dev.kvmctl.internal.bridge.NativeLibrary;

/**
 * Start-up work done on the second core while picocli builds the model and parses (issue 11):
 * the native libraries (under {@code scripts/kvmctl}, ~12 of a launch's ~110 ms), and for
 * {@code restore} the classes a restore goes through ({@link LazyRestore#loadClasses()}), which
 * would otherwise be loaded and initialized on the way from opening the snapshot to the guest's
 * first {@code KVM_RUN}. {@code -Dkvmctl.preload.classes=false} leaves the classes out (to measure what
 * it saves; scripts/restore-classes.sh uses it to record what a restore loads by itself).
 */
final class Preload {
    /** The thread {@link #start} started; null if none (in tests, which call {@code Main.run}). */
    private static Thread thread;

    private Preload() {}

    /** Starts the work for {@code command} (the first argument) on a daemon thread. */
    static void start(String command) {
        boolean restore = command.equals("restore");
        Thread t = new Thread(() -> {
            // preload does nothing when the libraries would have to be unpacked first (plain
            // java -jar): then neither are the classes loaded, since initializing them loads the
            // libraries, an extraction a usage error's exit could cut short.
            if (NativeLibrary.preload() && restore && !"false".equals(System.getProperty("kvmctl.preload.classes"))) {
                LazyRestore.loadClasses();
            }
        }, "kvmctl-preload");
        t.setDaemon(true);
        thread = t;
        t.start();
    }

    /**
     * Waits for the work to end, if any was started. A command that lets the preloading thread
     * initialize kvmctl's classes calls this before its first kvmctl call: two threads that
     * initialize classes which depend on each other can deadlock. (The native libraries alone
     * need no wait: the first KVM call waits for them, and they initialize no other class.)
     */
    static void await() {
        Thread t = thread;
        if (t != null) {
            Uninterruptibles.joinUninterruptibly(t);
        }
    }
}
