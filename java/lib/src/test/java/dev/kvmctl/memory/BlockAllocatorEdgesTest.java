package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Edges of the allocator that mutation testing (scripts/mutation.sh) found unguarded: the owner
 * checks of every entry point, a request exactly one unit past the last size bin, the owner table
 * rebuilt while owner 0 holds blocks, the result types' own answers and the log line; and the
 * largest region there is, where counting its units plus one would overflow.
 */
class BlockAllocatorEdgesTest {
    @Test
    void everyEntryPointRefusesANegativeOwnerAndChangesNothing() {
        BlockAllocator a = new BlockAllocator(4096);
        long offset = assertInstanceOf(AllocationResult.Allocated.class, a.allocate(1, 64)).offset();
        AllocatorStats before = a.stats();
        assertThrows(IllegalArgumentException.class, () -> a.allocate(-1, 64));
        assertThrows(IllegalArgumentException.class, () -> a.free(-1, offset));
        assertThrows(IllegalArgumentException.class, () -> a.transfer(-1, offset, 2), "the giver");
        assertThrows(IllegalArgumentException.class, () -> a.transfer(1, offset, -2), "the taker");
        assertThrows(IllegalArgumentException.class, () -> a.freeAll(-1));
        assertEquals(before, a.stats());
        a.checkInvariants();
    }

    @Test
    void aRequestOfExactlyAsManyUnitsAsThereAreBinsGoesToTheTree() {
        // 1 MiB at 64 bytes: 16,384 units, so all 4,096 bins exist and the bin bitmap is 64 words;
        // 4,096 units is the first size past the last bin.
        BlockAllocator a = new BlockAllocator(1 << 20);
        assertEquals(new AllocationResult.Allocated(0, 4096 * 64), a.allocate(0, 4096 * 64));
        assertEquals(new AllocationResult.Allocated(4096 * 64, 4095 * 64), a.allocate(0, 4095 * 64), "the last bin's size");
        assertEquals(new AllocationResult.Allocated(8191 * 64, 4097 * 64), a.allocate(0, 4097 * 64));
        a.checkInvariants();
    }

    @Test
    void ownerZeroKeepsItsBlocksWhileTheOwnerTableGrows() {
        BlockAllocator a = new BlockAllocator(1 << 20);
        Map<Integer, Long> expected = new TreeMap<>();
        for (int owner = 0; owner < 70; owner++) {
            long bytes = 64L * (owner + 1);
            assertTrue(a.allocate(owner, bytes).isAllocated());
            expected.merge(owner, bytes, Long::sum);
            assertEquals(expected, a.stats().bytesInUseByOwner(), "after owner " + owner + " joined");
        }
        assertEquals(new BlockAllocator.Reclaimed(1, 64), a.freeAll(0));
        expected.remove(0);
        assertEquals(expected, a.stats().bytesInUseByOwner());
        assertEquals(new BlockAllocator.Reclaimed(0, 0), a.freeAll(0), "nothing left");
        a.checkInvariants();
    }

    @Test
    void anOwnerThatJoinsAfterTheTableGrewGetsItsOwnAccount() {
        // Owners 1..70 first (the owner table is rebuilt at 5, 9, 17, 33 and 65 owners), then 0.
        BlockAllocator a = new BlockAllocator(1 << 20);
        Map<Integer, Long> expected = new TreeMap<>();
        for (int owner = 1; owner <= 70; owner++) {
            assertTrue(a.allocate(owner, 64).isAllocated());
            expected.put(owner, 64L);
        }
        long zero = assertInstanceOf(AllocationResult.Allocated.class, a.allocate(0, 128)).offset();
        expected.put(0, 128L);
        assertEquals(expected, a.stats().bytesInUseByOwner());
        assertEquals(BlockResult.Reason.WRONG_OWNER, assertInstanceOf(BlockResult.Refused.class, a.free(6, zero)).reason());
        assertEquals(new BlockAllocator.Reclaimed(1, 64), a.freeAll(6));
        assertEquals(new BlockResult.Done(zero, 128), a.free(0, zero));
        a.checkInvariants();
    }

    @Test
    void resultsSayWhatTheyAre() {
        assertTrue(new AllocationResult.Allocated(0, 64).isAllocated());
        assertFalse(new AllocationResult.Refused(AllocationResult.Reason.INVALID_SIZE, 0, 64).isAllocated());
        assertTrue(new BlockResult.Done(0, 64).isDone());
        assertFalse(new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, 0, -1).isDone());
        assertThrows(NullPointerException.class, () -> new AllocationResult.Refused(null, 0, 0));
        assertThrows(NullPointerException.class, () -> new BlockResult.Refused(null, 0, -1));
        assertEquals("cannot allocate 0 bytes: the size must be positive",
                new AllocationResult.Refused(AllocationResult.Reason.INVALID_SIZE, 0, 64).message());
        assertEquals("cannot allocate 5000 bytes: larger than the whole region",
                new AllocationResult.Refused(AllocationResult.Reason.LARGER_THAN_REGION, 5000, 64).message());
        assertEquals("cannot allocate 100 bytes: no idle block is large enough (largest idle block: 64 bytes)",
                new AllocationResult.Refused(AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH, 100, 64).message());
        assertEquals("offset 65 is not the start of a block", new BlockResult.Refused(BlockResult.Reason.NOT_A_BLOCK_START, 65, -1).message());
        assertEquals("the block at offset 64 is idle (already freed?)", new BlockResult.Refused(BlockResult.Reason.NOT_IN_USE, 64, -1).message());
        assertEquals("the block at offset 64 belongs to owner 3", new BlockResult.Refused(BlockResult.Reason.WRONG_OWNER, 64, 3).message());
    }

    @Test
    void theLogLineCountsBlocksAndBytes() {
        BlockAllocator a = new BlockAllocator(4096, 256);
        assertEquals("BlockAllocator[size=4096, alignment=256, inUse=0 blocks/0 bytes, idle=1 blocks/4096 bytes]", a.toString());
        a.allocate(0, 300);
        a.allocate(1, 1);
        assertEquals("BlockAllocator[size=4096, alignment=256, inUse=2 blocks/768 bytes, idle=1 blocks/3328 bytes]", a.toString());
    }

    @Test
    void statsAddUp() {
        BlockAllocator a = new BlockAllocator(8192);
        long x = assertInstanceOf(AllocationResult.Allocated.class, a.allocate(0, 1000)).offset();
        a.allocate(1, 2000);
        a.free(0, x);
        AllocatorStats s = a.stats();
        assertEquals(8192, s.regionSize());
        assertEquals(1, s.blocksInUse());
        assertEquals(2, s.idleBlocks());
        assertEquals(3, s.blocks());
        assertEquals(2048, s.bytesInUse());
        assertEquals(6144, s.bytesIdle());
        assertEquals(5120, s.largestIdleBlock());
        assertEquals(1 - 5120.0 / 6144, s.fragmentation(), 1e-12);
        assertEquals(Map.of(1, 2048L), s.bytesInUseByOwner());
        assertThrows(UnsupportedOperationException.class, () -> s.bytesInUseByOwner().put(2, 1L));
    }

    @Test
    void theLargestRegionOfSingleBytesWorks() {
        BlockAllocator a = new BlockAllocator(Long.MAX_VALUE, 1);
        assertEquals(new AllocationResult.Allocated(0, 3), a.allocate(0, 3));
        assertEquals(new AllocationResult.Allocated(3, 2), a.allocate(1, 2));
        long rest = Long.MAX_VALUE - 5;
        assertEquals(new AllocationResult.Allocated(5, rest), a.allocate(2, rest));
        assertEquals(0, a.stats().idleBlocks());
        assertTrue(a.free(1, 3).isDone());
        assertTrue(a.free(0, 0).isDone());
        assertEquals(new AllocationResult.Allocated(0, 4), a.allocate(3, 4), "the freed pair merged, split again");
        a.checkInvariants();
        assertEquals(new BlockAllocator.Reclaimed(1, rest), a.freeAll(2));
        a.checkInvariants();
    }
}
