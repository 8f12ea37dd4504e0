package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmException;
import dev.kvmctl.UserFaultFd;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A restore that starts the guest before its memory is read: once the header and metadata are
 * checked, the machine is built on empty memory that a {@link UserFaultFd} fills on first touch,
 * from the snapshot file, one chunk at a time, each chunk checked against its CRC32C
 * ({@link MemoryIndex}) before the guest sees a byte of it; a background thread loads and checks
 * the rest meanwhile ({@link ChunkLoader}). The time to a runnable machine does not depend on the
 * memory's size.
 *
 * <p>Integrity: every byte the guest reads was checked first. A chunk that does not match, or a
 * file truncated or failing to read while the guest runs, stops the guest with
 * {@link dev.kvmctl.guests.Outcome#CORRUPTED} and a message naming the chunk, never silently and
 * never with a signal in the JVM. Unlike {@link Snapshot#restore(Kvm, Path, OutputStream)}, the
 * guest depends on the file until {@link #isVerified()}: keep it until then. The JVM's own
 * accesses to the memory (a snapshot of the restored machine, a fault report) wait until the
 * loading is over ({@link GuestMemory#fillLazily}).
 *
 * <p>Falls back to the copying restore, saying why ({@link #fallbackReason()}), where it cannot
 * load lazily: a file written before snapshots had a memory index, or no userfaultfd (not root
 * and {@code vm.unprivileged_userfaultfd=0}, or an older kernel).
 *
 * <pre>{@code
 * LazyRestore restore = LazyRestore.start(kvm, Path.of("guest.snap"), System.out);
 * try (Machine machine = restore.machine()) {
 *     RunResult r = machine.run(Duration.ofSeconds(10));   // CORRUPTED if a chunk failed its check
 *     restore.awaitVerified(Duration.ofSeconds(10));
 * }
 * }</pre>
 */
public final class LazyRestore {
    private final Machine machine;
    private final ChunkLoader loader;
    private final String fallbackReason;
    private final long restoreNanos;

    private LazyRestore(Machine machine, ChunkLoader loader, String fallbackReason, long restoreNanos) {
        this.machine = machine;
        this.loader = loader;
        this.fallbackReason = fallbackReason;
        this.restoreNanos = restoreNanos;
    }

    /**
     * Restores {@code file} as a new machine that can run at once, its memory loading and being
     * checked in the background.
     *
     * @param kvm the open KVM to create the machine's VM on
     * @param file the snapshot
     * @param console where the guest's serial and debug-port output goes
     * @return the restore; its {@link #machine()} is the caller's to close
     * @throws ContextFormatException if the header or metadata are not intact, or this host cannot
     *     restore them (the memory is checked later, chunk by chunk, as above)
     * @throws UncheckedIOException if reading fails (a missing file too); the message names the file
     */
    public static LazyRestore start(Kvm kvm, Path file, OutputStream console) {
        long begin = System.nanoTime();
        FileChannel ch;
        try {
            ch = Snapshot.open(file);
        } catch (IOException e) {
            throw Snapshot.readError(file, e);
        }
        return start(kvm, ch, file, console, begin, true);
    }

    /**
     * {@link #start(Kvm, Path, OutputStream)} from a channel already open on the snapshot, which
     * the restore takes over: it reads it with positional reads only and closes it once the memory
     * is loaded (or the restore failed). {@code file} only names it in messages.
     *
     * @param kvm the open KVM to create the machine's VM on
     * @param channel the snapshot, open for reading; the restore's from now on
     * @param file the snapshot's name, for messages
     * @param console where the guest's serial and debug-port output goes
     * @return the restore; its {@link #machine()} is the caller's to close
     * @throws ContextFormatException if the header or metadata are not intact, or this host cannot
     *     restore them
     * @throws UncheckedIOException if reading fails; the message names {@code file}
     */
    public static LazyRestore start(Kvm kvm, FileChannel channel, Path file, OutputStream console) {
        return start(kvm, channel, file, console, System.nanoTime(), true);
    }

    /** With {@code prefetch} false, only chunks the guest touches are loaded until {@link #startPrefetching()}: for tests. */
    static LazyRestore start(Kvm kvm, FileChannel ch, Path file, OutputStream console, long begin, boolean prefetch) {
        boolean handedOver = false;
        try {
            SnapshotReader.Metadata m = SnapshotReader.readMetadata(ch, file);
            String unavailable = m.index() == null
                    ? file + " has no memory index (written by an older kvmctl), so its memory was copied before the guest started"
                    : null;
            GuestConfig config = GuestConfigCodec.decode(m.config(), new Console(console, null));
            GuestMemory ram = GuestMemory.memfd(Snapshot.memfdName(config.name()), m.info().memorySize());
            UserFaultFd uffd = null;
            if (unavailable == null) {
                try {
                    uffd = UserFaultFd.register(ram);
                } catch (KvmException e) {
                    unavailable = "userfaultfd is not available (" + e.getMessage() + "), so the memory of " + file
                            + " was copied before the guest started";
                }
            }
            if (uffd == null) {
                ram.close();
                Machine machine = Snapshot.restore(kvm, ch, file, console);
                return new LazyRestore(machine, null, unavailable, System.nanoTime() - begin);
            }
            ChunkLoader loader = new ChunkLoader(ch, file, m.info().memoryOffset(), m.index(), ram, uffd, prefetch);
            ram.fillLazily(loader::await);
            Thread thread = new Thread(loader, "kvmctl-restore-" + config.name());
            thread.setDaemon(true);
            thread.start(); // before the machine is built: building it may touch the memory
            handedOver = true; // the loader closes the channel and the userfaultfd
            Machine machine = build(kvm, config, ram, m, loader);
            return new LazyRestore(machine, loader, null, System.nanoTime() - begin);
        } catch (IOException e) {
            throw Snapshot.readError(file, e);
        } finally {
            if (!handedOver) {
                try {
                    ch.close();
                } catch (IOException e) {
                    // read-only: nothing was lost
                }
            }
        }
    }

    private static Machine build(Kvm kvm, GuestConfig config, GuestMemory ram, SnapshotReader.Metadata m, ChunkLoader loader) {
        Machine machine;
        try {
            machine = Machine.adopt(kvm, config, ram);
        } catch (RuntimeException e) {
            ram.close(); // the loader sees the memory gone and ends
            throw e;
        }
        try {
            Snapshot.loadContext(machine, m).restore(machine);
            loader.attach(machine);
            return machine;
        } catch (RuntimeException e) {
            machine.close();
            throw e;
        }
    }

    void startPrefetching() {
        loader.startPrefetching();
    }

    /**
     * {@return how many of the guest's first touches of a page waited for its chunk (0 for a
     * copying restore)}: the chunks loaded on demand rather than in the background
     */
    public long faults() {
        return loader == null ? 0 : loader.faults();
    }

    /** {@return the restored machine, not yet running; the caller closes it} */
    public Machine machine() {
        return machine;
    }

    /** {@return whether the memory is being loaded lazily; false if it was copied (see {@link #fallbackReason()})} */
    public boolean isLazy() {
        return loader != null;
    }

    /** {@return why the memory was copied instead of loaded lazily, or null if it is loaded lazily} */
    public String fallbackReason() {
        return fallbackReason;
    }

    /** {@return nanoseconds from opening the file until the machine could run (its first {@code KVM_RUN} may follow)} */
    public long restoreNanos() {
        return restoreNanos;
    }

    /**
     * Waits until every chunk was loaded and checked, or the loading ended otherwise.
     *
     * @param timeout the longest wait
     * @return whether the loading is over (then see {@link #isVerified()} and {@link #failure()})
     * @throws InterruptedException if interrupted while waiting
     */
    public boolean awaitVerified(Duration timeout) throws InterruptedException {
        if (loader == null) {
            return true;
        }
        return loader.await(timeout.toNanos());
    }

    /** {@return whether the whole memory image was checked and matched (always true after a copying restore)} */
    public boolean isVerified() {
        return loader == null || loader.verifyNanos() >= 0;
    }

    /**
     * {@return nanoseconds from the start of the loading until every chunk was checked; 0 for a
     * copying restore (it checked before it returned), -1 until then or if the loading failed or
     * was cut short by closing the machine}
     */
    public long verifyNanos() {
        return loader == null ? 0 : loader.verifyNanos();
    }

    /** {@return why the memory could not be restored (the guest was stopped for it), or null} */
    public String failure() {
        return loader == null ? null : loader.failure();
    }
}
