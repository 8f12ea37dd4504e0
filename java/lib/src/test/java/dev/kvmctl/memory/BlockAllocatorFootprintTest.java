package dev.kvmctl.memory;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Array;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link BlockAllocator#footprintBytes()} is what its Javadoc says, the bytes of the allocator's
 * arrays: counted here field by field through reflection (every primitive array the instance
 * and its parts hold, length times element size), not from the allocator's own formula, as the allocator
 * grows and shrinks. And {@link BlockAllocator#granuleFor} exactly at its limits.
 */
class BlockAllocatorFootprintTest {
    /**
     * The bytes of every primitive array (and array of them) {@code a} holds in its own fields or in those of its parts
     * (the package's objects it refers to, followed recursively; each counted once).
     */
    static long arrayBytes(BlockAllocator a) throws IllegalAccessException {
        return arrayBytes(a, new java.util.IdentityHashMap<>());
    }

    private static long arrayBytes(Object o, java.util.IdentityHashMap<Object, Boolean> seen) throws IllegalAccessException {
        if (seen.put(o, Boolean.TRUE) != null) {
            return 0;
        }
        long total = 0;
        for (Field f : o.getClass().getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers())) {
                continue;
            }
            f.setAccessible(true);
            Object value = f.get(o);
            Class<?> type = f.getType();
            if (value != null && type.getPackageName().equals(BlockAllocator.class.getPackageName())) {
                total += arrayBytes(value, seen);
            }
            if (value == null || !type.isArray()) {
                continue; // a null array: a bin's heap not made yet
            }
            total += bytesOf(value);
        }
        return total;
    }

    /** A primitive array's elements; an array of primitive arrays (IdleIndex's heaps): 8 per reference plus theirs. */
    private static long bytesOf(Object array) {
        Class<?> c = array.getClass().getComponentType();
        int length = Array.getLength(array);
        if (c.isArray()) {
            long total = 8L * length;
            for (int i = 0; i < length; i++) {
                Object inner = Array.get(array, i);
                total += inner == null ? 0 : bytesOf(inner);
            }
            return total;
        }
        assertTrue(c.isPrimitive(), "the allocator keeps no arrays of objects: " + c);
        int element = c == long.class || c == double.class ? 8 : c == int.class || c == float.class ? 4
                : c == short.class || c == char.class ? 2 : 1;
        return (long) element * length;
    }

    /** 4 MiB: 2^16 units, the largest region with a record per unit in the BlockTable; 64 MiB: records in a hash. */
    @ParameterizedTest
    @ValueSource(longs = {4L << 20, 64L << 20})
    void theFootprintIsTheBytesOfTheAllocatorsArrays(long size) throws IllegalAccessException {
        BlockAllocator a = new BlockAllocator(size);
        assertEquals(arrayBytes(a), a.footprintBytes(), "fresh");
        long[] offsets = new long[20_000];
        for (int i = 0; i < offsets.length; i++) {
            offsets[i] = ((AllocationResult.Allocated) a.allocate(i % 300, 64 + 64 * (i % 5))).offset();
        }
        assertEquals(arrayBytes(a), a.footprintBytes(), "after 20,000 blocks of 300 owners");
        for (int i = 0; i < offsets.length; i += 2) {
            a.free(i % 300, offsets[i]);
        }
        assertEquals(arrayBytes(a), a.footprintBytes(), "after freeing half");
        // A record per unit (32 bytes each) is sized by the region, not by the blocks held.
        long table = size >>> 6 <= BlockTable.DIRECT_UNITS ? 32 * (size >>> 6) : 0;
        assertTrue(a.footprintBytes() <= BlockAllocator.FOOTPRINT_PER_BLOCK * 20_001 + BlockAllocator.FOOTPRINT_FIXED + 300 * 64 + table,
                "within the documented bound for the blocks it held: " + a.footprintBytes());
        assertTrue(a.footprintBytes() <= BlockAllocator.FOOTPRINT_PER_BLOCK * a.maxBlocks() + BlockAllocator.FOOTPRINT_FIXED + 300 * 64,
                "within the documented bound for the region: " + a.footprintBytes());
    }

    @Test
    void theGranuleIsTheSmallestThatKeepsTheBlocksWithinTheLimit() {
        assertEquals(64, BlockAllocator.granuleFor(64 * 1000, 1000), "exactly 1000 units of 64");
        assertEquals(128, BlockAllocator.granuleFor(64 * 1000 + 1, 1000), "one byte more");
        assertEquals(64, BlockAllocator.granuleFor(1, 1));
        assertEquals(1L << 62, BlockAllocator.granuleFor(Long.MAX_VALUE, 2));
        IllegalArgumentException zero = assertThrows(IllegalArgumentException.class, () -> BlockAllocator.granuleFor(0, 10));
        assertEquals("size and maxBlocks must be positive, got 0 and 10", zero.getMessage());
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> BlockAllocator.granuleFor(100, 0));
        assertEquals("size and maxBlocks must be positive, got 100 and 0", none.getMessage());
        IllegalArgumentException tooMany = assertThrows(IllegalArgumentException.class, () -> BlockAllocator.granuleFor(Long.MAX_VALUE, 1));
        assertEquals("no granule splits " + Long.MAX_VALUE + " bytes into at most 1 blocks", tooMany.getMessage());
    }
}
