package dev.kvmctl.memory;

import java.util.Arrays;

/**
 * Every block's fields in one {@code long[]}, {@value #STRIDE} longs per block, indexed by an int id
 * that is recycled when a merge retires a block. No object per block: no headers, no pointers to
 * chase, no garbage, and a block's fields share a cache line or two, which is what bounds speed
 * once there are a million blocks. The other parts keep their links in these fields:
 *
 * <ul>
 * <li>{@code OFF}, {@code LEN}: the block's offset and size in bytes;
 * <li>{@code ADJ}: address-order neighbours (previous id high, next id low), kept by {@link OffsetIndex};
 * <li>{@code LINK}: two ids, high and low: a large idle block's tree children; for a block in a size
 *     bin, {@link IdleIndex}'s mark while it compacts the bin; unused while a block is in use;
 * <li>{@code TAG}: in use, the owner's slot (0 or more); idle, negative ({@link IdleIndex} keeps a
 *     tree parent there as {@code -2 - parent}, -1 for none, or -1 for a block in a bin); a
 *     recycled id, {@link #DEAD}.
 * </ul>
 *
 * <p>The array grows by doubling but never past {@code maxIds} blocks: every block is at least one
 * alignment unit, so the region's size bounds the heap, whatever the callers do.
 */
final class BlockStore {
    static final int OFF = 0;
    static final int LEN = 1;
    static final int ADJ = 2;
    static final int LINK = 3;
    static final int TAG = 4;
    static final int STRIDE = 5;
    /** The {@code TAG} of a recycled id: neither an owner slot nor any idle tag. */
    static final long DEAD = Long.MIN_VALUE;
    /** No block. */
    static final int NIL = -1;
    /** The most ids one store can hand out: its array stays indexable by an int. */
    static final int MAX_IDS = (Integer.MAX_VALUE - 16) / STRIDE;
    private static final long LOW = 0xFFFF_FFFFL;

    private final int maxIds;
    long[] fields;
    private int idLimit;
    private int[] freeIds = new int[16];
    private int freeIdCount;

    /** A store for at most {@code maxIds} (1 to {@link #MAX_IDS}) blocks at once. */
    BlockStore(int maxIds) {
        this.maxIds = maxIds;
        this.fields = new long[Math.min(16, maxIds) * STRIDE];
    }

    /** {@return a fresh or recycled id, its fields unspecified} */
    int newId() {
        if (freeIdCount > 0) {
            return freeIds[--freeIdCount];
        }
        if (idLimit >= maxIds) {
            throw new IllegalStateException("a BlockAllocator holds at most " + maxIds + " blocks");
        }
        if ((idLimit + 1) * STRIDE > fields.length) {
            int capacity = (int) Math.min(maxIds, 2L * idLimit);
            fields = Arrays.copyOf(fields, capacity * STRIDE);
        }
        return idLimit++;
    }

    /** {@return whether {@link #newId} would succeed} */
    boolean hasRoom() {
        return freeIdCount > 0 || idLimit < maxIds;
    }

    /** Takes back {@code id} for reuse; its {@code TAG} becomes {@link #DEAD}. */
    void freeId(int id) {
        fields[id * STRIDE + TAG] = DEAD; // a stale bin entry naming this id must not pass for a live block
        if (freeIdCount == freeIds.length) {
            // Recycled ids plus live blocks never exceed maxIds, so neither does this array.
            freeIds = Arrays.copyOf(freeIds, (int) Math.min(maxIds, 2L * freeIds.length));
        }
        freeIds[freeIdCount++] = id;
    }

    /** {@return one past the highest id handed out so far} */
    int idLimit() {
        return idLimit;
    }

    /** {@return the ids waiting for reuse, for invariant checks} */
    int[] recycledIds() {
        return Arrays.copyOf(freeIds, freeIdCount);
    }

    /** {@return the heap bytes of the store's arrays} */
    long footprintBytes() {
        return 8L * fields.length + 4L * freeIds.length;
    }

    long get(int id, int field) {
        return fields[id * STRIDE + field];
    }

    void set(int id, int field, long value) {
        fields[id * STRIDE + field] = value;
    }

    /** {@return the first id of a pair field ({@code ADJ}, {@code LINK})} */
    int high(int id, int field) {
        return (int) (fields[id * STRIDE + field] >> 32);
    }

    /** {@return the second id of a pair field} */
    int low(int id, int field) {
        return (int) fields[id * STRIDE + field];
    }

    void setPair(int id, int field, int high, int low) {
        fields[id * STRIDE + field] = ((long) high << 32) | (low & LOW);
    }

    void setHigh(int id, int field, int high) {
        int i = id * STRIDE + field;
        fields[i] = ((long) high << 32) | (fields[i] & LOW);
    }

    void setLow(int id, int field, int low) {
        int i = id * STRIDE + field;
        fields[i] = (fields[i] & ~LOW) | (low & LOW);
    }

    /** {@return whether block {@code id} is idle} */
    boolean isIdle(int id) {
        return fields[id * STRIDE + TAG] < 0;
    }
}
