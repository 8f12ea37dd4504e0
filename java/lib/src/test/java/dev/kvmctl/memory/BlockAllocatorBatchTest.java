package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** {@link BlockAllocator#allocateBatch} and {@link BlockAllocator#freeBatch}: what they do, where they stop, what they refuse. */
class BlockAllocatorBatchTest {
    @Test
    void aBatchAllocatesLikeThatManyCallsAndStopsWhenTheRegionIsFull() {
        BlockAllocator a = new BlockAllocator(1024);
        long[] out = new long[12];
        assertEquals(3, a.allocateBatch(2, 100, out, 1, 3));
        assertArrayEquals(new long[] {0, 0, 128, 256, 0, 0, 0, 0, 0, 0, 0, 0}, out);
        assertEquals(5, a.allocateBatch(2, 128, out, 4, 8), "room for five more, not eight");
        assertArrayEquals(new long[] {0, 0, 128, 256, 384, 512, 640, 768, 896, 0, 0, 0}, out);
        assertEquals(0, a.allocateBatch(2, 64, out, 0, 1));
        assertEquals(8 * 128, a.stats().bytesInUseByOwner().get(2));
        a.checkInvariants();
    }

    @Test
    void badSizesAllocateNothing() {
        BlockAllocator a = new BlockAllocator(1024);
        long[] out = new long[4];
        assertEquals(0, a.allocateBatch(0, 0, out, 0, 4));
        assertEquals(0, a.allocateBatch(0, -64, out, 0, 4));
        assertEquals(0, a.allocateBatch(0, 1025, out, 0, 4));
        assertEquals(0, a.allocateBatch(0, 64, out, 0, 0), "an empty batch");
        assertArrayEquals(new long[4], out);
        assertEquals(0, a.stats().blocksInUse());
    }

    @Test
    void aBatchFreeStopsAtTheFirstRefusalAndLeavesItAndTheRestAlone() {
        BlockAllocator a = new BlockAllocator(4096);
        long[] mine = new long[4];
        assertEquals(4, a.allocateBatch(1, 64, mine, 0, 4));
        long theirs = ((AllocationResult.Allocated) a.allocate(2, 64)).offset();
        long[] batch = {mine[0], mine[1], theirs, mine[2], 7};
        assertEquals(2, a.freeBatch(1, batch, 0, batch.length), "stops at another owner's block");
        assertEquals(2 * 64, a.stats().bytesInUseByOwner().get(1));
        assertEquals(64, a.stats().bytesInUseByOwner().get(2));
        assertEquals(0, a.freeBatch(1, batch, 0, 1), "a double free stops the batch at once");
        assertEquals(1, a.freeBatch(1, batch, 3, 2), "then the misaligned offset 7");
        assertEquals(2, a.freeBatch(1, new long[] {mine[3], theirs}, 0, 1) + a.freeBatch(2, new long[] {theirs}, 0, 1));
        assertEquals(0, a.stats().blocksInUse());
        a.checkInvariants();
    }

    @Test
    void programmingErrorsThrowAndChangeNothing() {
        BlockAllocator a = new BlockAllocator(4096);
        long[] out = new long[4];
        assertThrows(IllegalArgumentException.class, () -> a.allocateBatch(-1, 64, out, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> a.allocateBatch(0, 64, out, 0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> a.allocateBatch(0, 64, out, 2, 3));
        assertThrows(IndexOutOfBoundsException.class, () -> a.allocateBatch(0, 64, out, -1, 1));
        assertThrows(NullPointerException.class, () -> a.allocateBatch(0, 64, null, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> a.freeBatch(-1, out, 0, 1));
        assertThrows(IllegalArgumentException.class, () -> a.freeBatch(0, out, 0, -1));
        assertThrows(IndexOutOfBoundsException.class, () -> a.freeBatch(0, out, 4, 1));
        assertEquals(0, a.stats().blocksInUse());
        assertArrayEquals(new long[4], out);
        a.checkInvariants();
    }
}
