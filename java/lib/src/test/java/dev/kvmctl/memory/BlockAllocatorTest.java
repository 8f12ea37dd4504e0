package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import org.junit.jupiter.api.Test;

class BlockAllocatorTest {
    private static final int A = 0;
    private static final int B = 1;
    private static final int C = 7;

    /** Allocates and insists it worked; returns the offset. */
    private static long alloc(BlockAllocator a, int owner, long bytes) {
        AllocationResult r = a.allocate(owner, bytes);
        AllocationResult.Allocated ok = assertInstanceOf(AllocationResult.Allocated.class, r, () -> r.toString());
        a.checkInvariants();
        return ok.offset();
    }

    private static void free(BlockAllocator a, int owner, long offset) {
        BlockResult r = a.free(owner, offset);
        assertInstanceOf(BlockResult.Done.class, r, r::toString);
        a.checkInvariants();
    }

    /**
     * Builds a 4 KiB region (64-byte alignment) whose idle holes have the given sizes, in address
     * order, each followed by a 64-byte block in use by owner C, so no two holes touch. The tail after
     * the last separator is filled by owner C too. Returns the hole offsets.
     */
    private static long[] withHoles(BlockAllocator a, long... holes) {
        long[] offsets = new long[holes.length];
        for (int i = 0; i < holes.length; i++) {
            offsets[i] = alloc(a, B, holes[i]);
            alloc(a, C, 64);
        }
        AllocatorStats s = a.stats();
        if (s.bytesIdle() > 0) {
            alloc(a, C, s.bytesIdle());
        }
        for (long off : offsets) {
            free(a, B, off);
        }
        assertEquals(holes.length, a.stats().idleBlocks());
        return offsets;
    }

    private static AllocationResult.Allocated allocated(AllocationResult r) {
        return assertInstanceOf(AllocationResult.Allocated.class, r, r::toString);
    }

    @Test
    void theClassJavadocExampleDoesWhatItSays() {
        BlockAllocator alloc = new BlockAllocator(64L << 20);
        int vmA = 0;
        int vmB = 1;
        AllocationResult.Allocated a = allocated(alloc.allocate(vmA, 1000));
        assertEquals(new AllocationResult.Allocated(0, 1024), a);
        assertEquals(new BlockResult.Done(0, 1024), alloc.transfer(vmA, a.offset(), vmB));
        assertEquals(BlockResult.Reason.WRONG_OWNER, ((BlockResult.Refused) alloc.free(vmA, a.offset())).reason());
        assertEquals(new BlockResult.Done(0, 1024), alloc.free(vmB, a.offset()));
        assertEquals(new BlockAllocator.Reclaimed(0, 0), alloc.freeAll(vmA));
        assertTrue(alloc.stats().toString().contains("regionSize=67108864"));
        alloc.checkInvariants();
    }

    @Test
    void constructorRejectsProgrammingErrors() {
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(0));
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(-4096));
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(100));
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(4096, 0));
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(4096, -64));
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(4096, 48));
        assertThrows(IllegalArgumentException.class, () -> new BlockAllocator(4096 + 64, 4096));
        BlockAllocator ok = new BlockAllocator(3, 1);
        assertEquals(3, ok.size());
        assertEquals(1, ok.alignment());
    }

    @Test
    void negativeOwnerIsAProgrammingError() {
        BlockAllocator a = new BlockAllocator(4096);
        assertThrows(IllegalArgumentException.class, () -> a.allocate(-1, 64));
        assertThrows(IllegalArgumentException.class, () -> a.free(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> a.transfer(A, 0, -2));
        assertThrows(IllegalArgumentException.class, () -> a.freeAll(-3));
    }

    @Test
    void freshRegionIsOneIdleBlock() {
        BlockAllocator a = new BlockAllocator(1 << 20);
        a.checkInvariants();
        assertEquals(new AllocatorStats(1 << 20, 0, 1, 0, 1 << 20, 1 << 20, 0.0, Map.of()), a.stats());
    }

    @Test
    void requestsAreRoundedUpToTheAlignment() {
        BlockAllocator a = new BlockAllocator(1 << 20);
        assertEquals(new AllocationResult.Allocated(0, 64), a.allocate(A, 1));
        assertEquals(new AllocationResult.Allocated(64, 64), a.allocate(A, 64));
        assertEquals(new AllocationResult.Allocated(128, 128), a.allocate(A, 65));
        BlockAllocator pages = new BlockAllocator(1 << 20, 4096);
        assertEquals(new AllocationResult.Allocated(0, 4096), pages.allocate(A, 1));
        assertEquals(new AllocationResult.Allocated(4096, 8192), pages.allocate(A, 4097));
        BlockAllocator bytes = new BlockAllocator(10, 1);
        assertEquals(new AllocationResult.Allocated(0, 3), bytes.allocate(A, 3));
        assertEquals(new AllocationResult.Allocated(3, 7), bytes.allocate(A, 7));
        bytes.checkInvariants();
    }

    @Test
    void remainderBecomesAnIdleBlock() {
        BlockAllocator a = new BlockAllocator(1024);
        assertEquals(new AllocationResult.Allocated(0, 128), a.allocate(A, 100));
        AllocatorStats s = a.stats();
        assertEquals(1, s.blocksInUse());
        assertEquals(1, s.idleBlocks());
        assertEquals(896, s.largestIdleBlock());
        a.checkInvariants();
        assertEquals(new AllocationResult.Allocated(128, 896), a.allocate(A, 896));
        assertEquals(0, a.stats().idleBlocks());
    }

    @Test
    void exactFitIsPreferredOverALargerLowerBlock() {
        BlockAllocator a = new BlockAllocator(4096);
        long[] holes = withHoles(a, 512, 128, 256);
        assertEquals(new AllocationResult.Allocated(holes[1], 128), a.allocate(A, 100));
        assertEquals(new AllocationResult.Allocated(holes[2], 256), a.allocate(A, 256));
        assertEquals(1, a.stats().idleBlocks(), "exact fits leave no remainder");
        a.checkInvariants();
    }

    @Test
    void bestFitTakesTheSmallestLargerBlockAndKeepsTheRest() {
        BlockAllocator a = new BlockAllocator(4096);
        long[] holes = withHoles(a, 512, 384, 256, 640);
        assertEquals(new AllocationResult.Allocated(holes[2], 128), a.allocate(A, 100));
        a.checkInvariants();
        // The 128-byte rest of that hole is now the best fit for another 128.
        assertEquals(new AllocationResult.Allocated(holes[2] + 128, 128), a.allocate(A, 128));
        // Next smallest that holds 300 (rounded 320) is the 384 hole.
        assertEquals(new AllocationResult.Allocated(holes[1], 320), a.allocate(A, 300));
        assertEquals(new AllocationResult.Allocated(holes[3], 576), a.allocate(A, 513));
        a.checkInvariants();
    }

    @Test
    void tiesGoToTheLowestAddress() {
        BlockAllocator a = new BlockAllocator(4096);
        long[] holes = withHoles(a, 256, 512, 256, 256);
        assertEquals(new AllocationResult.Allocated(holes[0], 192), a.allocate(A, 130));
        assertEquals(new AllocationResult.Allocated(holes[0] + 192, 64), a.allocate(A, 64));
        assertEquals(new AllocationResult.Allocated(holes[2], 256), a.allocate(A, 256));
        assertEquals(new AllocationResult.Allocated(holes[3], 256), a.allocate(A, 256));
        assertEquals(new AllocationResult.Allocated(holes[1], 256), a.allocate(A, 256));
    }

    /** Four adjacent 64-byte blocks p, q, r, s at 0..255 with the rest of a 1 KiB region in use too. */
    private static BlockAllocator fourInARow() {
        BlockAllocator a = new BlockAllocator(1024);
        for (int i = 0; i < 4; i++) {
            assertEquals(64L * i, alloc(a, A, 64));
        }
        alloc(a, B, 768);
        return a;
    }

    @Test
    void freeWithNoIdleNeighbourMakesOneIdleBlock() {
        BlockAllocator a = fourInARow();
        free(a, A, 64);
        assertEquals(1, a.stats().idleBlocks());
        assertEquals(64, a.stats().largestIdleBlock());
    }

    @Test
    void freeMergesWithTheIdleBlockOnTheRight() {
        BlockAllocator a = fourInARow();
        free(a, A, 128);
        free(a, A, 64);
        assertEquals(1, a.stats().idleBlocks());
        assertEquals(128, a.stats().largestIdleBlock());
        assertEquals(new AllocationResult.Allocated(64, 128), a.allocate(A, 128));
    }

    @Test
    void freeMergesWithTheIdleBlockOnTheLeft() {
        BlockAllocator a = fourInARow();
        free(a, A, 64);
        free(a, A, 128);
        assertEquals(1, a.stats().idleBlocks());
        assertEquals(128, a.stats().largestIdleBlock());
        assertInstanceOf(BlockResult.Refused.class, a.free(A, 128), "128 is no longer a block start");
        assertEquals(new AllocationResult.Allocated(64, 128), a.allocate(A, 128));
    }

    @Test
    void freeMergesWithIdleBlocksOnBothSides() {
        BlockAllocator a = fourInARow();
        free(a, A, 0);
        free(a, A, 128);
        assertEquals(2, a.stats().idleBlocks());
        free(a, A, 64);
        assertEquals(1, a.stats().idleBlocks());
        assertEquals(192, a.stats().largestIdleBlock());
        free(a, B, 256);
        free(a, A, 192);
        assertEquals(new AllocatorStats(1024, 0, 1, 0, 1024, 1024, 0.0, Map.of()), a.stats());
    }

    @Test
    void freeingTheLastBlockMergesWithTheHead() {
        BlockAllocator a = new BlockAllocator(256);
        long x = alloc(a, A, 128);
        long y = alloc(a, A, 128);
        free(a, A, x);
        free(a, A, y);
        assertEquals(1, a.stats().idleBlocks());
        assertEquals(new AllocationResult.Allocated(0, 256), a.allocate(A, 256));
    }

    /** Asserts that {@code op} is refused and changes nothing. */
    private static <T> T unchanged(BlockAllocator a, java.util.function.Supplier<T> op) {
        AllocatorStats before = a.stats();
        String text = a.toString();
        T result = op.get();
        a.checkInvariants();
        assertEquals(before, a.stats());
        assertEquals(text, a.toString());
        return result;
    }

    @Test
    void refusedAllocationsChangeNothing() {
        BlockAllocator a = new BlockAllocator(4096);
        withHoles(a, 256, 512);
        AllocationResult.Refused zero = assertInstanceOf(AllocationResult.Refused.class, unchanged(a, () -> a.allocate(A, 0)));
        assertEquals(AllocationResult.Reason.INVALID_SIZE, zero.reason());
        assertEquals(AllocationResult.Reason.INVALID_SIZE,
                ((AllocationResult.Refused) unchanged(a, () -> a.allocate(A, -64))).reason());
        AllocationResult.Refused huge = (AllocationResult.Refused) unchanged(a, () -> a.allocate(A, 4097));
        assertEquals(AllocationResult.Reason.LARGER_THAN_REGION, huge.reason());
        assertEquals(AllocationResult.Reason.LARGER_THAN_REGION,
                ((AllocationResult.Refused) unchanged(a, () -> a.allocate(A, Long.MAX_VALUE))).reason());
        AllocationResult.Refused full = (AllocationResult.Refused) unchanged(a, () -> a.allocate(A, 513));
        assertEquals(new AllocationResult.Refused(AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, 513, 512), full);
        assertTrue(full.message().contains("512"), full.message());
        assertTrue(zero.message().contains("positive"), zero.message());
        assertTrue(huge.message().contains("larger than the whole region"), huge.message());
        // Within the region but more than all idle space put together.
        assertEquals(AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH,
                ((AllocationResult.Refused) unchanged(a, () -> a.allocate(A, 4096))).reason());
    }

    @Test
    void fullRegionRefusesWithLargestIdleZero() {
        BlockAllocator a = new BlockAllocator(1 << 16);
        alloc(a, A, 1 << 16);
        AllocatorStats s = a.stats();
        assertEquals(0, s.bytesIdle());
        assertEquals(0.0, s.fragmentation());
        assertEquals(new AllocationResult.Refused(AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, 1, 0),
                unchanged(a, () -> a.allocate(B, 1)));
    }

    @Test
    void refusedFreesChangeNothing() {
        BlockAllocator a = new BlockAllocator(4096);
        long x = alloc(a, A, 256);
        long y = alloc(a, B, 256);
        alloc(a, A, 256);
        free(a, A, x);
        assertEquals(new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, x, -1), unchanged(a, () -> a.free(A, x)));
        assertEquals(new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, y, B), unchanged(a, () -> a.free(A, y)));
        assertEquals(new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, y, B), unchanged(a, () -> a.free(C, y)));
        for (long bad : new long[] {y + 64, y + 1, -64, -1, 4096, 4160, 1L << 40, Long.MAX_VALUE, Long.MIN_VALUE}) {
            assertEquals(new BlockResult.Refused(BlockResult.Reason.NOT_A_BLOCK_START, bad, -1),
                    unchanged(a, () -> a.free(B, bad)));
        }
        // The idle tail after the three blocks starts at 768: idle, not in use.
        assertEquals(BlockResult.Reason.NOT_IN_USE, ((BlockResult.Refused) unchanged(a, () -> a.free(A, 768))).reason());
        BlockResult.Refused wrong = (BlockResult.Refused) a.free(A, y);
        assertTrue(wrong.message().contains("owner " + B), wrong.message());
    }

    @Test
    void refusedTransfersChangeNothing() {
        BlockAllocator a = new BlockAllocator(4096);
        long x = alloc(a, A, 256);
        long y = alloc(a, B, 256);
        free(a, A, x);
        assertEquals(BlockResult.Reason.NOT_IN_USE, ((BlockResult.Refused) unchanged(a, () -> a.transfer(A, x, B))).reason());
        assertEquals(new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, y, B), unchanged(a, () -> a.transfer(A, y, C)));
        assertEquals(BlockResult.Reason.NOT_A_BLOCK_START,
                ((BlockResult.Refused) unchanged(a, () -> a.transfer(B, y + 64, A))).reason());
    }

    @Test
    void transferHandsABlockToAnotherOwner() {
        BlockAllocator a = new BlockAllocator(4096);
        long x = alloc(a, A, 1000);
        alloc(a, A, 64);
        assertEquals(Map.of(A, 1088L), a.stats().bytesInUseByOwner());
        assertEquals(new BlockResult.Done(x, 1024), a.transfer(A, x, B));
        a.checkInvariants();
        assertEquals(Map.of(A, 64L, B, 1024L), a.stats().bytesInUseByOwner());
        assertEquals(BlockResult.Reason.WRONG_OWNER, ((BlockResult.Refused) a.free(A, x)).reason());
        assertEquals(new BlockResult.Done(x, 1024), a.transfer(B, x, B), "to oneself is a no-op");
        assertEquals(new BlockResult.Done(x, 1024), a.free(B, x));
        a.checkInvariants();
        assertEquals(Map.of(A, 64L), a.stats().bytesInUseByOwner());
    }

    @Test
    void freeAllReclaimsOnlyThatOwnersBlocks() {
        BlockAllocator a = new BlockAllocator(1 << 20);
        long keep = 0;
        for (int i = 0; i < 50; i++) {
            alloc(a, A, 100 + i);
            keep += 64 * ((100 + i + 63) / 64);
            alloc(a, B, 64);
        }
        long handed = alloc(a, B, 64);
        assertEquals(new BlockResult.Done(handed, 64), a.transfer(B, handed, A));
        assertEquals(new BlockAllocator.Reclaimed(50, 50 * 64), a.freeAll(B));
        a.checkInvariants();
        AllocatorStats s = a.stats();
        assertEquals(51, s.blocksInUse());
        assertEquals(Map.of(A, keep + 64), s.bytesInUseByOwner());
        assertEquals(new BlockAllocator.Reclaimed(0, 0), a.freeAll(B), "nothing left");
        assertEquals(new BlockAllocator.Reclaimed(0, 0), a.freeAll(99), "never seen");
        assertEquals(new BlockAllocator.Reclaimed(51, keep + 64), a.freeAll(A));
        a.checkInvariants();
        assertEquals(new AllocatorStats(1 << 20, 0, 1, 0, 1 << 20, 1 << 20, 0.0, Map.of()), a.stats());
        // Owners are usable again afterwards.
        assertEquals(new AllocationResult.Allocated(0, 64), a.allocate(B, 1));
        a.checkInvariants();
    }

    @Test
    void statsReportFragmentation() {
        BlockAllocator a = new BlockAllocator(4096);
        withHoles(a, 256, 768);
        AllocatorStats s = a.stats();
        assertEquals(1024, s.bytesIdle());
        assertEquals(768, s.largestIdleBlock());
        assertEquals(0.25, s.fragmentation(), 1e-12);
        assertEquals(4096, s.bytesInUse() + s.bytesIdle());
        assertEquals(s.blocksInUse() + s.idleBlocks(), s.blocks());
    }

    @Test
    void regionsLargerThan4GiBUseLongOffsets() {
        long gib = 1L << 30;
        BlockAllocator a = new BlockAllocator(64 * gib, 4096);
        long x = alloc(a, A, 5 * gib);
        long y = alloc(a, A, 5 * gib + 1);
        long z = alloc(a, B, 40 * gib);
        assertEquals(0, x);
        assertEquals(5 * gib, y);
        assertEquals(10 * gib + 4096, z);
        free(a, A, y);
        assertEquals(new AllocationResult.Allocated(5 * gib, 4096), a.allocate(C, 1));
        assertEquals(BlockResult.Reason.NOT_A_BLOCK_START, ((BlockResult.Refused) a.free(A, 5 * gib + 1)).reason());
        AllocatorStats s = a.stats();
        assertEquals(45 * gib + 4096, s.bytesInUse());
        assertEquals(64 * gib - s.bytesInUse(), s.bytesIdle());
        assertTrue(allocated(a.allocate(C, 10 * gib)).offset() > 50 * gib);
        a.checkInvariants();
    }

    @Test
    void requestsAtTheTopOfTheSizeBinsFallBackToTheTree() {
        // Small sizes have exact-size bins, the largest of them in the last bitmap word; a request
        // there that no bin can meet must go to the size-ordered tree, never to a smaller bin.
        BlockAllocator a = new BlockAllocator(1 << 20);
        long hole = alloc(a, A, 640);
        alloc(a, A, 64);
        free(a, A, hole);
        for (long units : new long[] {4030, 4032, 4040, 4095}) {
            AllocationResult.Allocated got = allocated(a.allocate(B, units * 64));
            assertEquals(units * 64, got.size());
            assertTrue(got.offset() >= 704, "not from the 640-byte hole");
            a.checkInvariants();
            free(a, B, got.offset());
        }
        // And a bin in the last word is found when it is the best fit.
        long big = alloc(a, A, 4090 * 64);
        alloc(a, A, 64);
        free(a, A, big);
        assertEquals(new AllocationResult.Allocated(big, 4040 * 64), a.allocate(B, 4040 * 64));
        a.checkInvariants();
    }

    @Test
    void manyBlocksGrowTheTablesCorrectly() {
        BlockAllocator a = new BlockAllocator(1 << 24);
        int n = 20_000;
        long[] offsets = new long[n];
        for (int i = 0; i < n; i++) {
            offsets[i] = allocated(a.allocate(i % 5, 64 + (i % 7) * 64)).offset();
        }
        a.checkInvariants();
        for (int i = 0; i < n; i += 2) {
            assertEquals(BlockResult.Done.class, a.free(i % 5, offsets[i]).getClass());
        }
        a.checkInvariants();
        assertEquals(n / 2, a.stats().blocksInUse());
        for (int owner = 0; owner < 5; owner++) {
            a.freeAll(owner);
        }
        a.checkInvariants();
        assertEquals(1, a.stats().idleBlocks());
    }

    @Test
    void manyOwnersGrowTheOwnerTable() {
        BlockAllocator a = new BlockAllocator(1 << 20);
        for (int owner = 0; owner < 300; owner++) {
            alloc(a, owner * 1000, 64);
        }
        assertEquals(300, a.stats().bytesInUseByOwner().size());
        for (int owner = 0; owner < 300; owner += 3) {
            assertEquals(new BlockAllocator.Reclaimed(1, 64), a.freeAll(owner * 1000));
        }
        a.checkInvariants();
        assertEquals(200, a.stats().bytesInUseByOwner().size());
    }
}
