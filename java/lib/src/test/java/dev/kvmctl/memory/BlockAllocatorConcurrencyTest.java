package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Several VM threads sharing one allocator: the lock keeps every answer and the final state consistent. */
class BlockAllocatorConcurrencyTest {
    private static final int THREADS = 4;
    private static final int SINK = 100;
    private static final int OPS = 100_000;

    /** What one thread did; only its own thread touches it until join. */
    private static final class Tally {
        final List<Long> live = new ArrayList<>();
        final List<Long> sizes = new ArrayList<>();
        long liveBytes;
        long handedBytes;
        int handedBlocks;
    }

    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void threadsSharingOneAllocatorStayConsistent() throws Exception {
        BlockAllocator a = new BlockAllocator(1L << 30);
        // The observer pauses between checks: these workers build up many blocks, and an O(n)
        // check run back to back would hold the lock most of the time.
        List<Tally> tallies = contend(a, BlockAllocatorConcurrencyTest::work, 2);
        a.checkInvariants();
        AllocatorStats s = a.stats();
        long expectedInUse = 0;
        long handedBytes = 0;
        int handedBlocks = 0;
        int liveBlocks = 0;
        for (int t = 0; t < THREADS; t++) {
            Tally tally = tallies.get(t);
            assertEquals(tally.liveBytes, s.bytesInUseByOwner().getOrDefault(t, 0L), "owner " + t);
            expectedInUse += tally.liveBytes + tally.handedBytes;
            handedBytes += tally.handedBytes;
            handedBlocks += tally.handedBlocks;
            liveBlocks += tally.live.size();
        }
        assertEquals(expectedInUse, s.bytesInUse());
        assertEquals(liveBlocks + handedBlocks, s.blocksInUse());
        assertEquals(new BlockAllocator.Reclaimed(handedBlocks, handedBytes), a.freeAll(SINK));
        for (int t = 0; t < THREADS; t++) {
            assertEquals(tallies.get(t).live.size(), a.freeAll(t).blocks());
        }
        a.checkInvariants();
        assertEquals(1, a.stats().idleBlocks());
        assertEquals(0, a.stats().bytesInUse());
    }

    /**
     * The calls the test above leaves out, under the same contention: batch allocations and frees,
     * each thread reclaiming all its blocks now and then, and statistics read mid-flight, which must
     * always be one consistent snapshot (per-owner bytes adding up to the bytes in use).
     */
    @Test
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void batchesReclaimsAndStatsUnderContention() throws Exception {
        BlockAllocator a = new BlockAllocator(1L << 30);
        List<long[]> tallies = contend(a, BlockAllocatorConcurrencyTest::batchWork, 0);
        a.checkInvariants();
        AllocatorStats s = a.stats();
        for (int t = 0; t < THREADS; t++) {
            assertEquals(tallies.get(t)[0], s.bytesInUseByOwner().getOrDefault(t, 0L), "owner " + t);
            assertEquals(new BlockAllocator.Reclaimed((int) tallies.get(t)[1], tallies.get(t)[0]), a.freeAll(t));
        }
        assertEquals(0, a.stats().bytesInUse());
    }

    /** What one thread does to the shared allocator as {@code owner}, once {@code start} opens. */
    private interface Worker<T> {
        T work(BlockAllocator a, int owner, CountDownLatch start) throws InterruptedException;
    }

    /**
     * Runs THREADS workers (owners 0 to THREADS - 1) on {@code a} at once, while a fifth thread checks
     * the invariants and that every statistics snapshot is consistent, pausing {@code pauseMillis}
     * between checks, until the workers are done; returns what each worker returned, in owner order.
     */
    private static <T> List<T> contend(BlockAllocator a, Worker<T> worker, long pauseMillis) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(THREADS + 1);
        CountDownLatch start = new CountDownLatch(1);
        AtomicBoolean done = new AtomicBoolean();
        try {
            List<Future<T>> workers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int owner = t;
                workers.add(pool.submit(() -> worker.work(a, owner, start)));
            }
            AtomicInteger checks = new AtomicInteger();
            Future<?> observer = pool.submit(() -> {
                start.await();
                while (!done.get()) {
                    a.checkInvariants();
                    consistent(a.stats());
                    checks.incrementAndGet();
                    if (pauseMillis > 0) {
                        Thread.sleep(pauseMillis);
                    }
                }
                return null;
            });
            start.countDown();
            List<T> results = new ArrayList<>();
            for (Future<T> w : workers) {
                results.add(w.get());
            }
            // On a fast machine the workers may end before the observer was first scheduled: the
            // observer is not stopped before its first check, however long that takes.
            while (checks.get() == 0 && !observer.isDone()) {
                Thread.onSpinWait();
            }
            done.set(true);
            observer.get();
            assertTrue(checks.get() > 0);
            return results;
        } finally {
            done.set(true);
            pool.shutdownNow();
            assertTrue(pool.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    private static void consistent(AllocatorStats s) {
        assertEquals(s.regionSize(), s.bytesInUse() + s.bytesIdle());
        long sum = 0;
        for (long bytes : s.bytesInUseByOwner().values()) {
            sum += bytes;
        }
        assertEquals(s.bytesInUse(), sum, "per-owner bytes add up to the bytes in use");
    }

    /** Returns {bytes, blocks} the owner holds at the end. */
    private static long[] batchWork(BlockAllocator a, int owner, CountDownLatch start) throws InterruptedException {
        SplittableRandom rnd = new SplittableRandom(100 + owner);
        long[] live = new long[4096];
        long[] sizeOf = new long[4096];
        int n = 0;
        long bytes = 0;
        long[] batch = new long[32];
        start.await();
        for (int i = 0; i < OPS / 10; i++) {
            int dice = rnd.nextInt(20);
            if (dice < 9 && n + batch.length <= live.length) {
                long size = 1 + rnd.nextInt(8192);
                long rounded = (size + BlockAllocator.DEFAULT_ALIGNMENT - 1) & -BlockAllocator.DEFAULT_ALIGNMENT;
                int got = a.allocateBatch(owner, size, batch, 0, 1 + rnd.nextInt(batch.length));
                for (int k = 0; k < got; k++) {
                    live[n] = batch[k];
                    sizeOf[n++] = rounded;
                    bytes += rounded;
                }
            } else if (dice < 18 && n > 0) {
                int k = 1 + rnd.nextInt(Math.min(n, batch.length));
                n -= k; // the last k blocks
                for (int j = 0; j < k; j++) {
                    bytes -= sizeOf[n + j];
                }
                assertEquals(k, a.freeBatch(owner, live, n, k));
                assertEquals(0, a.freeBatch(owner, live, n, 1), "freed blocks are refused");
            } else if (dice == 18) {
                assertEquals(new BlockAllocator.Reclaimed(n, bytes), a.freeAll(owner));
                n = 0;
                bytes = 0;
            } else {
                consistent(a.stats());
            }
        }
        return new long[] {bytes, n};
    }

    private static Tally work(BlockAllocator a, int owner, CountDownLatch start) throws InterruptedException {
        Tally tally = new Tally();
        SplittableRandom rnd = new SplittableRandom(owner);
        start.await();
        for (int i = 0; i < OPS; i++) {
            int dice = rnd.nextInt(10);
            if (dice < 5 || tally.live.isEmpty()) {
                AllocationResult r = a.allocate(owner, 1 + rnd.nextInt(8192));
                if (r instanceof AllocationResult.Allocated ok) {
                    tally.live.add(ok.offset());
                    tally.sizes.add(ok.size());
                    tally.liveBytes += ok.size();
                }
            } else {
                int k = rnd.nextInt(tally.live.size());
                long off = tally.live.get(k);
                long size = tally.sizes.get(k);
                int last = tally.live.size() - 1;
                tally.live.set(k, tally.live.get(last));
                tally.sizes.set(k, tally.sizes.get(last));
                tally.live.remove(last);
                tally.sizes.remove(last);
                tally.liveBytes -= size;
                if (dice < 9) {
                    assertEquals(new BlockResult.Done(off, size), a.free(owner, off));
                    // Another thread may have reused the block by now; either way ours is gone.
                    BlockResult again = a.free(owner, off);
                    assertFalse(again.isDone(), "a double free must be refused");
                } else {
                    assertEquals(new BlockResult.Done(off, size), a.transfer(owner, off, SINK));
                    tally.handedBytes += size;
                    tally.handedBlocks++;
                }
            }
        }
        return tally;
    }
}
