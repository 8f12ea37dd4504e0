package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.guests.shm.SharedRegion;
import org.junit.jupiter.api.Test;

/**
 * The allocator's heap is bounded by its region's size over its granule, whatever the callers do:
 * the hostile pattern of issue 8 (64-byte blocks, never freed) over a large region stops at the
 * granule bound instead of growing until the JVM runs out of memory.
 */
class BlockAllocatorHeapTest {
    private static long bound(BlockAllocator a) {
        return BlockAllocator.FOOTPRINT_PER_BLOCK * a.maxBlocks() + BlockAllocator.FOOTPRINT_FIXED + 1024;
    }

    @Test
    void theGranuleKeepsARegionAtOrBelowTheBlockBudget() {
        assertEquals(64, BlockAllocator.granuleFor(1 << 20, SharedRegion.MAX_GRANULES));
        assertEquals(64, BlockAllocator.granuleFor(16L << 20, SharedRegion.MAX_GRANULES));
        assertEquals(128, BlockAllocator.granuleFor((16L << 20) + 64, SharedRegion.MAX_GRANULES));
        assertEquals(128, BlockAllocator.granuleFor(32L << 20, SharedRegion.MAX_GRANULES));
        assertEquals(8192, BlockAllocator.granuleFor(2L << 30, SharedRegion.MAX_GRANULES));
        assertEquals(256 << 10, BlockAllocator.granuleFor(64L << 30, SharedRegion.MAX_GRANULES));
        assertEquals(64, BlockAllocator.granuleFor(1, 1));
        assertEquals(128, BlockAllocator.granuleFor(65, 1));
        assertEquals(1L << 62, BlockAllocator.granuleFor(Long.MAX_VALUE, 2));
        assertThrows(IllegalArgumentException.class, () -> BlockAllocator.granuleFor(Long.MAX_VALUE, 1));
        for (long size = 64; size < (1L << 40); size = size * 3 + 64) {
            long g = BlockAllocator.granuleFor(size, SharedRegion.MAX_GRANULES);
            assertEquals(1, Long.bitCount(g));
            assertTrue((size + g - 1) / g <= SharedRegion.MAX_GRANULES, "size " + size + " granule " + g);
            assertTrue(g == 64 || (size + g / 2 - 1) / (g / 2) > SharedRegion.MAX_GRANULES, "smallest granule for " + size);
        }
        assertThrows(IllegalArgumentException.class, () -> BlockAllocator.granuleFor(0, 10));
        assertThrows(IllegalArgumentException.class, () -> BlockAllocator.granuleFor(4096, 0));
    }

    @Test
    void maxBlocksIsOnePerAlignmentUnit() {
        assertEquals(16384, new BlockAllocator(1 << 20).maxBlocks());
        assertEquals(1, new BlockAllocator(4096, 4096).maxBlocks());
        assertEquals(BlockAllocator.MAX_BLOCKS, new BlockAllocator(1L << 40).maxBlocks());
    }

    /** Issue 8's guest over a 2 GiB region: before the granule it reached 32 M blocks and OutOfMemoryError. */
    @Test
    void hoardingTheSmallestBlocksStopsAtTheGranuleBound() {
        long size = 2L << 30;
        BlockAllocator a = new BlockAllocator(size, BlockAllocator.granuleFor(size, SharedRegion.MAX_GRANULES));
        long blocks = 0;
        AllocationResult r;
        while ((r = a.allocate(0, 64)) instanceof AllocationResult.Allocated ok) {
            assertEquals(a.alignment(), ok.size());
            blocks++;
            assertTrue(blocks <= SharedRegion.MAX_GRANULES);
        }
        AllocationResult.Refused no = assertInstanceOf(AllocationResult.Refused.class, r);
        assertEquals(AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, no.reason());
        assertEquals(SharedRegion.MAX_GRANULES, blocks);
        assertEquals(size, a.stats().bytesInUse());
        long footprint = a.footprintBytes();
        assertTrue(footprint <= bound(a), footprint + " bytes of heap for " + blocks + " blocks, bound " + bound(a));
        assertTrue(footprint < 32L << 20, "the whole bookkeeping of a 2 GiB region fits in 32 MiB: " + footprint);
    }

    /** The most blocks a region can hold, idle and in use alternating, plus churn: the arrays stay within the bound. */
    @Test
    void theWorstPatternStaysWithinTheFootprintBound() {
        BlockAllocator a = new BlockAllocator(1 << 20);
        long[] offsets = new long[(int) a.maxBlocks()];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = assertInstanceOf(AllocationResult.Allocated.class, a.allocate(i % 3, 64)).offset();
        }
        assertTrue(a.footprintBytes() <= bound(a), a.footprintBytes() + " > " + bound(a));
        for (int i = 0; i < offsets.length; i += 2) {
            assertInstanceOf(BlockResult.Done.class, a.free(i % 3, offsets[i]));
            offsets[i] = -1;
        }
        assertEquals(a.maxBlocks(), a.stats().blocks(), "every other block idle: the most blocks there can be");
        assertTrue(a.footprintBytes() <= bound(a), a.footprintBytes() + " > " + bound(a));
        // Churn: free and reallocate in random sizes; ids are recycled, nothing grows past the bound.
        java.util.SplittableRandom random = new java.util.SplittableRandom(8);
        for (int round = 0; round < 200_000; round++) {
            int i = random.nextInt(offsets.length);
            if (offsets[i] >= 0) {
                assertInstanceOf(BlockResult.Done.class, a.free(i % 3, offsets[i]));
                offsets[i] = -1;
            } else if (a.allocate(i % 3, 1 + random.nextInt(256)) instanceof AllocationResult.Allocated ok) {
                offsets[i] = ok.offset();
            }
        }
        a.checkInvariants();
        assertTrue(a.footprintBytes() <= bound(a), a.footprintBytes() + " > " + bound(a));
    }

    @Test
    void aTinyRegionNeedsOnlyItsFixedArrays() {
        BlockAllocator a = new BlockAllocator(128);
        assertInstanceOf(AllocationResult.Allocated.class, a.allocate(0, 64));
        assertInstanceOf(AllocationResult.Allocated.class, a.allocate(1, 64));
        assertInstanceOf(AllocationResult.Refused.class, a.allocate(2, 64));
        assertTrue(a.footprintBytes() <= bound(a));
        a.checkInvariants();
    }
}
