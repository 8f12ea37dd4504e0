package dev.kvmctl.memory;

import java.util.Collections;
import java.util.Map;
import java.util.TreeMap;

/**
 * A consistent snapshot of a {@link BlockAllocator}, taken under its lock.
 *
 * <pre>{@code
 * AllocatorStats s = allocator.stats();
 * System.out.printf("%d blocks in use, %.1f%% fragmented%n", s.blocksInUse(), 100 * s.fragmentation());
 * }</pre>
 *
 * @param regionSize the size of the whole region in bytes
 * @param blocksInUse how many blocks are in use
 * @param idleBlocks how many idle blocks there are (never two adjacent ones)
 * @param bytesInUse the bytes in blocks in use
 * @param bytesIdle the bytes in idle blocks; {@code bytesInUse + bytesIdle == regionSize}
 * @param largestIdleBlock the size of the largest idle block: the largest request that can succeed now
 * @param fragmentation {@code 1 - largestIdleBlock / bytesIdle}, or 0 when nothing is idle: 0 means all
 *     idle space is one block, values near 1 mean it is scattered in small pieces
 * @param bytesInUseByOwner bytes in use per owner id, for owners that hold at least one block, sorted by owner
 */
public record AllocatorStats(
        long regionSize,
        int blocksInUse,
        int idleBlocks,
        long bytesInUse,
        long bytesIdle,
        long largestIdleBlock,
        double fragmentation,
        Map<Integer, Long> bytesInUseByOwner) {

    /**
     * Copies {@code bytesInUseByOwner} into an unmodifiable map sorted by owner.
     *
     * @param regionSize the size of the whole region in bytes
     * @param blocksInUse how many blocks are in use
     * @param idleBlocks how many idle blocks there are
     * @param bytesInUse the bytes in blocks in use
     * @param bytesIdle the bytes in idle blocks
     * @param largestIdleBlock the size of the largest idle block
     * @param fragmentation {@code 1 - largestIdleBlock / bytesIdle}, or 0 when nothing is idle
     * @param bytesInUseByOwner bytes in use per owner id
     */
    public AllocatorStats {
        bytesInUseByOwner = Collections.unmodifiableMap(new TreeMap<>(bytesInUseByOwner));
    }

    /** {@return the total number of blocks, idle or in use: {@code blocksInUse + idleBlocks}} */
    public int blocks() {
        return blocksInUse + idleBlocks;
    }
}
