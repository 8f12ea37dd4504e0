package dev.kvmctl.contexts;

import com.google.common.util.concurrent.Uninterruptibles;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.UserFaultFd;
import dev.kvmctl.guests.Machine;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The thread behind a {@link LazyRestore}: fills a restored guest's memory from the snapshot file
 * one chunk at a time, each checked against its CRC32C in the {@link MemoryIndex} before any of it
 * reaches the guest. A page the guest (through KVM) waits on is served first: its chunk is read,
 * checked and copied in; between faults the remaining chunks are loaded in order, so the whole
 * image is verified in the background. That background loading waits for the guest's first fault
 * (or for someone to wait on the loading), so it does not compete for the CPU with the restore's
 * build of the machine, on which the time to the first {@code KVM_RUN} depends. Zero chunks, and zero pages inside chunks, are left to
 * the kernel (a fault on one gets a zero page), so a sparse image stays sparse.
 *
 * <p>A chunk that does not check out, or a file that ends early (truncated while the guest runs)
 * or fails to read, ends the restore: the machine is stopped with {@link dev.kvmctl.guests.Outcome#CORRUPTED}
 * and the reason (its vCPU is kicked first), then the userfaultfd is closed, so whoever waits on a
 * page gets zeros and goes on to that stop; nothing is left blocked and no signal is raised.
 * Once every chunk is in (or the restore ended) the userfaultfd and the file are closed and the
 * JVM's accesses to the memory, held back until then ({@link GuestMemory#fillLazily}), proceed.
 */
final class ChunkLoader implements Runnable, GuestMemory.LazyFill {
    /** A snapshot file a chunk is read from: a full snapshot, or a diff of a chain that holds it. */
    record Source(FileChannel channel, Path file, long imageOffset) {}

    private final Source[] sourceOf;
    private final List<Source> sources;
    private final MemoryIndex index;
    private final GuestMemory ram;
    private final UserFaultFd uffd;
    private final boolean[] loaded;
    /** Made by {@link #run()}, on the loader's thread: not on the way to the guest's first KVM_RUN. */
    private ByteBuffer buffer;
    private final CountDownLatch done = new CountDownLatch(1);
    private final long start = System.nanoTime();
    private Machine machine; // guarded by this
    private String failure; // guarded by this
    private volatile long verifyNanos = -1;
    /** Whether chunks nobody waits on are loaded too, from now on. */
    private volatile boolean prefetch;
    /**
     * Whether prefetching starts by itself: at the guest's first fault (it runs), or when someone
     * waits for the loading. Until then the loader serves faults only, leaving the CPU to the
     * restore's build; only tests hold it back altogether, to prove the fault path.
     */
    private final boolean prefetchOnDemand;
    private volatile long faults;
    /** How long an idle loader sleeps before it looks whether it should prefetch or stop. */
    private static final int IDLE_WAIT_MILLIS = 1;

    /**
     * A loader of {@code ram} from the chunks' sources ({@code sourceOf[chunk]}, each one of
     * {@code sources}, which it closes when done), each chunk checked against {@code index}. With
     * a null {@code uffd}, {@link #run()} copies every chunk into {@code ram} directly, before the
     * machine is built (the copying restore of a chain).
     */
    ChunkLoader(List<Source> sources, Source[] sourceOf, MemoryIndex index, GuestMemory ram, UserFaultFd uffd, boolean prefetch) {
        this.prefetchOnDemand = prefetch;
        this.sources = sources;
        this.sourceOf = sourceOf;
        this.index = index;
        this.ram = ram;
        this.uffd = uffd;
        this.loaded = new boolean[index.count()];
    }

    /** The machine to stop if the memory fails its check; one found bad before this is stopped now. */
    void attach(Machine m) {
        String why;
        synchronized (this) {
            machine = m;
            why = failure;
        }
        if (why != null) {
            m.stopCorrupted(why);
        }
    }

    /** Waits, uninterruptibly, until the loader is done (every chunk checked, or it gave up). */
    @Override
    public void await() {
        if (prefetchOnDemand) {
            prefetch = true;
        }
        Uninterruptibles.awaitUninterruptibly(done);
    }

    /** Waits up to {@code nanos} until the loader is done; whether it is. */
    boolean await(long nanos) throws InterruptedException {
        if (prefetchOnDemand) {
            prefetch = true;
        }
        return done.await(nanos, TimeUnit.NANOSECONDS);
    }

    synchronized String failure() {
        return failure;
    }

    /** Lets a loader started without prefetching load the rest in the background after all. */
    void startPrefetching() {
        prefetch = true;
    }

    /** How many page faults (first touches by the guest, through KVM) the loader has served. */
    long faults() {
        return faults;
    }

    /** Nanoseconds from the loader's start until every chunk was checked; -1 until then or if it failed. */
    long verifyNanos() {
        return verifyNanos;
    }

    @Override
    public void run() {
        try {
            buffer = ByteBuffer.allocateDirect(MemoryIndex.CHUNK);
            if (loadAll()) {
                verifyNanos = System.nanoTime() - start;
            }
        } catch (ChunkFailure e) {
            fail(e.getMessage());
        } catch (IOException e) {
            fail(String.format("reading snapshot %s failed (%s); its memory could not be restored",
                    sources.get(0).file(), AtomicFile.reason(e)));
        } catch (RuntimeException | Error e) {
            fail("restoring the memory of " + sources.get(0).file() + " failed: " + e);
        } finally {
            if (uffd != null) {
                uffd.close(); // after fail(): the vCPU is kicked before a waiting access is let through
            }
            for (Source source : sources) {
                try {
                    source.channel().close();
                } catch (IOException e) {
                    // read-only: nothing was lost
                }
            }
            if (uffd != null && !ram.isClosed()) {
                try {
                    ram.fillLazily(null);
                } catch (IllegalStateException e) {
                    // closed meanwhile: nobody waits on it any more
                }
            }
            done.countDown();
        }
    }

    /** Loads every chunk, faults first; false if the memory went away (the machine was closed). */
    private boolean loadAll() throws IOException {
        int next = 0;
        while (uffd == null) { // copying: every chunk, in order, before anyone runs
            if (next == loaded.length) {
                return true;
            }
            load(next++);
        }
        while (true) {
            boolean served = false;
            for (long at = uffd.nextFault(); at >= 0; at = uffd.nextFault()) {
                faults++; // this thread is the only writer
                served = true;
                int chunk = (int) (at / MemoryIndex.CHUNK);
                if (!load(chunk) || !uffd.zero(at & -GuestMemory.PAGE_SIZE, GuestMemory.PAGE_SIZE)) {
                    return false; // zero(): the page was in a zero run, or was discarded since
                }
            }
            if (served && prefetchOnDemand) {
                prefetch = true; // the guest runs: the restore's build is over
            }
            if (!prefetch) {
                if (ram.isClosed()) {
                    return false;
                }
                if (!served) {
                    // Nothing to do until the next fault: sleep in poll(2) rather than spin, leaving
                    // the CPU to the restore's build; wake now and then to see a close or a prefetch.
                    uffd.awaitFault(IDLE_WAIT_MILLIS);
                }
                continue;
            }
            while (next < loaded.length && loaded[next]) {
                next++;
            }
            if (next == loaded.length) {
                return true;
            }
            if (!load(next)) {
                return false;
            }
        }
    }

    /** Reads, checks and copies in one chunk's non-zero pages, once; false if the memory went away. */
    private boolean load(int chunk) throws IOException {
        if (loaded[chunk]) {
            return true;
        }
        loaded[chunk] = true;
        if (index.isZero(chunk)) {
            return !ram.isClosed();
        }
        int length = index.length(chunk);
        long at = index.offset(chunk);
        Source source = sourceOf[chunk];
        Path file = source.file();
        buffer.clear().limit(length);
        while (buffer.hasRemaining()) {
            long position = source.imageOffset() + at + buffer.position();
            if (source.channel().read(buffer, position) <= 0) {
                throw new ChunkFailure(String.format("snapshot %s ended at byte %d while it was being read: it was truncated after "
                        + "it was opened (by another process?), so chunk %d of its memory is missing", file, position, chunk));
            }
        }
        buffer.flip();
        if (MemoryIndex.crc(buffer) != index.crc(chunk)) {
            throw new ChunkFailure(String.format("snapshot %s is corrupted: chunk %d of its memory (bytes %d to %d) does not "
                    + "match its checksum (changed after it was written, or while the guest ran)", file, chunk, at, at + length));
        }
        boolean[] present = {true};
        SnapshotFormat.forEachDataRun(buffer, length, (from, n) -> {
            if (uffd == null) {
                ram.populate(at + from, n);
                ram.slice(at + from, n).put(buffer.slice(from, n));
            } else if (present[0]) {
                present[0] = uffd.copy(at + from, buffer.slice(from, n));
            }
        });
        return present[0];
    }

    private void fail(String why) {
        Machine m;
        synchronized (this) {
            failure = why;
            m = machine;
        }
        if (m != null) {
            m.stopCorrupted(why);
        }
    }

    /** A chunk that cannot be restored; its message says which and why. */
    private static final class ChunkFailure extends IOException {
        private static final long serialVersionUID = 1L;

        ChunkFailure(String message) {
            super(message);
        }
    }
}
