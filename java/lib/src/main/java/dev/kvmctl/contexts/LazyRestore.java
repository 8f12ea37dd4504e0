package dev.kvmctl.contexts;

import com.google.common.util.concurrent.Uninterruptibles;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmException;
import dev.kvmctl.UserFaultFd;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

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
    /**
     * Runs each restore's {@link Loading}. Its one thread is started with the class and ends after
     * a minute without work (another is made when restores overlap): starting a thread costs about
     * a millisecond here, which would otherwise fall between opening the snapshot and the guest's
     * first {@code KVM_RUN} (issue 11); {@link #loadClasses()} initializes this class ahead.
     */
    private static final ThreadPoolExecutor LOADERS = loaders();

    /** The classes {@link #loadClasses()} loads, one name a line (a resource beside this class). */
    static final String CLASS_LIST = "restore-classes.txt";

    private final Machine machine;
    private final ChunkLoader loader;
    private final String fallbackReason;
    /** {@link System#nanoTime()} when the file was opened. */
    private final long openedAt;
    private final long restoreNanos;

    private LazyRestore(Machine machine, ChunkLoader loader, String fallbackReason, long openedAt) {
        this.machine = machine;
        this.loader = loader;
        this.fallbackReason = fallbackReason;
        this.openedAt = openedAt;
        this.restoreNanos = System.nanoTime() - openedAt;
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
        return start(kvm, file, List.of(), console);
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
        return start(kvm, List.of(channel), List.of(file), console, System.nanoTime(), true);
    }

    /**
     * Restores a base snapshot and a chain of diff snapshots ({@link DiffSnapshot}) as one new
     * machine: the last diff's configuration and contexts, each chunk of memory from the last file
     * of the chain that holds it, checked against the last diff's memory index. Every diff is
     * checked against the file before it first (its base's id, its memory size, the chunks it does
     * not hold), so a chain in the wrong order or on another base is refused before anything is
     * built. Without a userfaultfd the memory is copied and checked before the guest starts.
     *
     * @param kvm the open KVM to create the machine's VM on
     * @param base the full snapshot the first diff was taken from
     * @param diffs the diffs, each taken from the one before it (the first from {@code base}); may be empty
     * @param console where the guest's serial and debug-port output goes
     * @return the restore; its {@link #machine()} is the caller's to close
     * @throws ContextFormatException if a file is not intact, or the chain does not fit together
     *     (the message names the file and what does not fit)
     * @throws UncheckedIOException if reading fails (a missing file too); the message names the file
     */
    public static LazyRestore start(Kvm kvm, Path base, List<Path> diffs, OutputStream console) {
        long begin = System.nanoTime();
        List<Path> files = new ArrayList<>();
        files.add(base);
        files.addAll(diffs);
        List<FileChannel> channels = new ArrayList<>();
        try {
            for (Path f : files) {
                try {
                    channels.add(Snapshot.open(f));
                } catch (IOException e) {
                    throw Snapshot.readError(f, e);
                }
            }
        } catch (RuntimeException e) {
            closeAll(channels);
            throw e;
        }
        return start(kvm, channels, files, console, begin, true);
    }

    /** With {@code prefetch} false, only chunks the guest touches are loaded until {@link #startPrefetching()}: for tests. */
    static LazyRestore start(Kvm kvm, FileChannel ch, Path file, OutputStream console, long begin, boolean prefetch) {
        return start(kvm, List.of(ch), List.of(file), console, begin, prefetch);
    }

    private static LazyRestore start(Kvm kvm, List<FileChannel> channels, List<Path> files, OutputStream console, long begin,
                                     boolean prefetch) {
        boolean handedOver = false;
        Path file = files.get(0);
        Path reading = file;
        try {
            SnapshotReader.Metadata m = SnapshotReader.readMetadata(channels.get(0), file);
            List<ChunkLoader.Source> sources = new ArrayList<>();
            sources.add(new ChunkLoader.Source(channels.get(0), file, m.info().memoryOffset()));
            ChunkLoader.Source[] sourceOf = null;
            if (files.size() > 1 && m.index() == null) {
                throw new ContextFormatException(file + " has no memory index (written by an older kvmctl), so it cannot be "
                        + "the base of diff snapshots");
            }
            if (m.index() != null) {
                sourceOf = new ChunkLoader.Source[m.index().count()];
                Arrays.fill(sourceOf, sources.get(0));
            }
            for (int i = 1; i < files.size(); i++) {
                reading = files.get(i);
                SnapshotReader.Metadata d = SnapshotReader.readAnyMetadata(channels.get(i), reading);
                DiffSnapshot.checkLink(m, files.get(i - 1), d, reading);
                ChunkLoader.Source source = new ChunkLoader.Source(channels.get(i), reading, d.info().memoryOffset());
                sources.add(source);
                for (int c = 0; c < sourceOf.length; c++) {
                    if (d.diff().stored()[c]) {
                        sourceOf[c] = source;
                    }
                }
                m = d;
            }
            reading = file;
            String unavailable = m.index() == null
                    ? file + " has no memory index (written by an older kvmctl), so its memory was copied before the guest started"
                    : null;
            GuestConfig config = GuestConfigCodec.decode(m.config(), new Console(console, null));
            ContextDecoder contexts = new ContextDecoder(kvm, config, m);
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
            if (uffd == null && files.size() == 1) {
                ram.close();
                Machine machine = Snapshot.restore(kvm, channels.get(0), file, console);
                return new LazyRestore(machine, null, unavailable, begin);
            }
            ChunkLoader loader = new ChunkLoader(sources, sourceOf, m.index(), ram, uffd, prefetch);
            handedOver = true; // the loader closes the channels (and the userfaultfd)
            if (uffd == null) { // a chain without userfaultfd: copied and checked first
                loader.run();
                if (loader.failure() != null) {
                    ram.close();
                    throw new ContextFormatException(loader.failure() + "; nothing was restored");
                }
                return new LazyRestore(build(kvm, config, ram, contexts, null), null, unavailable, begin);
            }
            ram.fillLazily(loader);
            // Another thread decodes the contexts while this one builds the machine (neither needs
            // the other), then loads the memory. Building the VM, its slot and vCPUs touches no guest
            // memory; restoring the contexts, which may, waits for the decoding, and so comes after
            // the loader serves faults.
            contexts.started();
            LOADERS.execute(new Loading(config.name(), contexts, loader));
            Machine machine = build(kvm, config, ram, contexts, loader);
            return new LazyRestore(machine, loader, null, begin);
        } catch (IOException e) {
            throw Snapshot.readError(reading, e);
        } finally {
            if (!handedOver) {
                closeAll(channels);
            }
        }
    }

    private static ThreadPoolExecutor loaders() {
        ThreadPoolExecutor pool = new ThreadPoolExecutor(1, Integer.MAX_VALUE, 60, TimeUnit.SECONDS, new SynchronousQueue<>(),
                r -> {
                    Thread t = new Thread(r, "kvmctl-restore");
                    t.setDaemon(true);
                    return t;
                });
        pool.allowCoreThreadTimeOut(true);
        pool.prestartCoreThread();
        return pool;
    }

    /** A restore's work on a {@link #LOADERS} thread: the contexts' decoding, then the memory's loading. */
    private record Loading(String guest, ContextDecoder contexts, ChunkLoader loader) implements Runnable {
        @Override
        public void run() {
            Thread.currentThread().setName("kvmctl-restore-" + guest);
            try {
                contexts.run();
                loader.run();
            } finally {
                Thread.currentThread().setName("kvmctl-restore");
            }
        }
    }

    private static void closeAll(List<FileChannel> channels) {
        for (FileChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException e) {
                // read-only: nothing was lost
            }
        }
    }

    private static Machine build(Kvm kvm, GuestConfig config, GuestMemory ram, ContextDecoder contexts, ChunkLoader loader) {
        Machine machine;
        try {
            machine = Machine.adopt(kvm, config, ram);
        } catch (RuntimeException e) {
            ram.close(); // the loader sees the memory gone and ends
            throw e;
        }
        try {
            MachineContext context = contexts.get();
            context.restore(machine);
            if (loader != null) {
                loader.attach(machine);
            }
            return machine;
        } catch (RuntimeException e) {
            machine.close();
            throw e;
        }
    }

    /**
     * Decodes and checks a snapshot's contexts ({@link Snapshot#loadContext}), on the loader's
     * thread before it loads memory, while the restoring thread builds the machine (VM, memory
     * slot, vCPUs): neither needs the other, and in a fresh JVM each is milliseconds of first-time
     * work (class initialisation, interpreted code) on the way to the guest's first {@code KVM_RUN}.
     */
    private static final class ContextDecoder implements Runnable {
        private final Kvm kvm;
        private final GuestConfig config;
        private final SnapshotReader.Metadata metadata;
        private final CountDownLatch done = new CountDownLatch(1);
        private boolean started;
        private MachineContext context; // published by done
        private Throwable failure; // published by done

        ContextDecoder(Kvm kvm, GuestConfig config, SnapshotReader.Metadata metadata) {
            this.kvm = kvm;
            this.config = config;
            this.metadata = metadata;
        }

        /** Says that another thread runs this: {@link #get()} waits for it instead of decoding. */
        void started() {
            started = true;
        }

        @Override
        public void run() {
            try {
                context = Snapshot.loadContext(kvm, config, metadata);
            } catch (RuntimeException | Error e) {
                failure = e;
            } finally {
                done.countDown();
            }
        }

        /** The decoded contexts (decoded here and now unless another thread runs this); what decoding threw, rethrown. */
        MachineContext get() {
            if (!started) {
                run();
            }
            Uninterruptibles.awaitUninterruptibly(done);
            if (failure instanceof RuntimeException e) {
                throw e;
            }
            if (failure instanceof Error e) {
                throw e;
            }
            return context;
        }
    }

    /**
     * Loads and initializes, on the calling thread, the classes a restore goes through, so that
     * the first restore in this JVM does not pay for them: in a fresh JVM, loading and
     * initializing them (even from a class-data-sharing archive) is about half of a restore's
     * time from opening the file to the guest's first {@code KVM_RUN} (issue 11). A program that
     * restores soon after it starts can call this on another thread while it does other start-up
     * work, as {@code kvmctl restore} does while it parses its command line.
     *
     * <p>Do not call it while another thread uses kvmctl (a restore, or anything else): two
     * threads that initialize classes which depend on each other can deadlock. Join the thread
     * that calls this before the next kvmctl call.
     *
     * <p>The list ({@code restore-classes.txt} beside this class) is made by
     * {@code scripts/restore-classes.sh} from a restore's class-loading log. Never throws: a
     * class that cannot be loaded or initialized is left for its first real use to report.
     *
     * @return how many of the listed classes are now loaded and initialized
     */
    public static int loadClasses() {
        ClassLoader loader = LazyRestore.class.getClassLoader();
        int loaded = 0;
        try (InputStream in = LazyRestore.class.getResourceAsStream(CLASS_LIST)) {
            if (in == null) {
                return 0;
            }
            BufferedReader names = new BufferedReader(new InputStreamReader(in, StandardCharsets.US_ASCII));
            for (String name = names.readLine(); name != null; name = names.readLine()) {
                try {
                    Class.forName(name, true, loader);
                    loaded++;
                } catch (ClassNotFoundException | LinkageError e) {
                    // a stale entry (RestoreClassesTest catches those) or a class whose first use will say why
                }
            }
        } catch (IOException e) {
            // the jar could not be read: the restore loads what it needs as it goes
        }
        return loaded;
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
     * {@return nanoseconds from opening the file to the machine's first {@code KVM_RUN}: issue 11's
     * time to a running guest, {@code restore --json}'s {@code restore_ms}}
     *
     * @throws IllegalStateException if the machine has not run yet
     */
    public long firstRunNanos() {
        return machine.firstRunAt() - openedAt;
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
