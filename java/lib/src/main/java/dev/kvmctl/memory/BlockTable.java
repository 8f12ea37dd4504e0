package dev.kvmctl.memory;

import java.util.Arrays;

/**
 * Every block as one record of {@value #STRIDE} longs (32 bytes), found by the unit it starts at:
 * finding a block by its offset <em>is</em> reading its fields, one cache line or two, with no id in
 * between. Offsets and sizes are in alignment units.
 *
 * <ul>
 * <li>{@code KEY}: the unit the block starts at; {@value #EMPTY} for a free slot;
 * <li>{@code LEN}: its size in units, so the next block starts at {@code KEY + LEN};
 * <li>{@code PREV}: the unit the previous block starts at, {@value #EMPTY} for the first: the back
 *     link merging needs, kept up to date by whoever moves a block's start;
 * <li>{@code TAG}: in use, the owner's slot (0 or more); idle, negative ({@link IdleIndex}'s:
 *     {@code -1} in a size bin, {@code -2 - node} in its tree of large blocks).
 * </ul>
 *
 * <p>Regions of at most {@value #DIRECT_UNITS} units keep a record per unit, the record of unit u
 * at slot u (32 bytes per unit, 2 MiB at most, allocated up front): no hashing, and records never
 * move. Larger regions keep the records themselves in an open-addressing hash (linear probing, at
 * most 5/8 full, backward-shift deletion so lookups never slow down with churn), whose size follows
 * the most blocks held, not the region. There, {@link #remove} moves other records, so a record
 * found before a removal must be found again after it; {@link #add} moves none (room is made
 * beforehand by {@link #ensureRoom}, which may move them all). Other parts read and write the
 * fields in {@link #rec} directly, at the index {@link #find} or {@link #add} answered.
 */
final class BlockTable {
    static final int KEY = 0;
    static final int LEN = 1;
    static final int PREV = 2;
    static final int TAG = 3;
    static final int STRIDE = 4;
    /** The key of a free slot, and the PREV of the first block. */
    static final long EMPTY = -1;
    /** Regions of up to this many units get a record per unit. */
    static final int DIRECT_UNITS = 1 << 16;
    /** The most slots a hash may have: its array stays indexable by an int. */
    private static final int MAX_SLOTS = 1 << 28;
    /** The most records one table holds: 5/8 of the largest hash. */
    static final int MAX_RECORDS = MAX_SLOTS / 8 * 5;
    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;
    private static final int MIN_SLOTS = 16;

    private final boolean direct;
    /** The records, slot s at {@code rec[s * STRIDE]}; read and written directly by the other parts. */
    long[] rec;
    private int shift;
    private int count;

    /** An empty table for a region of {@code units} units (at least 1). */
    BlockTable(long units) {
        direct = units <= DIRECT_UNITS;
        int slots = direct ? (int) units : MIN_SLOTS;
        rec = new long[slots * STRIDE];
        for (int i = 0; i < rec.length; i += STRIDE) {
            rec[i] = EMPTY;
        }
        shift = 64 - Integer.numberOfTrailingZeros(MIN_SLOTS);
    }

    /** {@return how many blocks the table holds} */
    int count() {
        return count;
    }

    /** {@return the number of slots: records held plus free ones} */
    int slots() {
        return rec.length / STRIDE;
    }

    /** {@return the heap bytes of the records} */
    long footprintBytes() {
        return 8L * rec.length;
    }

    /** {@return the record index ({@code slot * STRIDE}) of the block starting at {@code unit}, or -1} */
    int find(long unit) {
        long[] r = rec;
        if (direct) {
            int i = (int) unit * STRIDE;
            return r[i] == unit ? i : -1;
        }
        int mask = r.length - STRIDE;
        for (int i = home(unit); ; i = (i + STRIDE) & mask) {
            long k = r[i];
            if (k == unit) {
                return i;
            }
            if (k == EMPTY) {
                return -1;
            }
        }
    }

    /** The record index where a hash probe for {@code unit} starts. */
    private int home(long unit) {
        return (int) ((unit * GOLDEN) >>> shift) * STRIDE;
    }

    /**
     * Makes sure one more record fits without growing (a hash may double: every record moves);
     * returns whether records moved.
     *
     * @throws IllegalStateException if the table already holds {@link #MAX_RECORDS}
     */
    boolean ensureRoom() {
        if (direct || (count + 1) * 8L <= slots() * 5L) {
            return false;
        }
        if (slots() >= MAX_SLOTS) {
            throw new IllegalStateException("a BlockAllocator holds at most " + MAX_RECORDS + " blocks");
        }
        long[] old = rec;
        rec = new long[old.length * 2];
        for (int i = 0; i < rec.length; i += STRIDE) {
            rec[i] = EMPTY;
        }
        shift--;
        for (int i = 0; i < old.length; i += STRIDE) {
            if (old[i] != EMPTY) {
                int j = freeSlotFor(old[i]);
                System.arraycopy(old, i, rec, j, STRIDE);
            }
        }
        return true;
    }

    private int freeSlotFor(long unit) {
        long[] r = rec;
        int mask = r.length - STRIDE;
        int i = home(unit);
        while (r[i] != EMPTY) {
            i = (i + STRIDE) & mask;
        }
        return i;
    }

    /**
     * Adds the block starting at {@code unit} (none may start there yet; room made by
     * {@link #ensureRoom}); moves no other record. Returns its record index; its {@code TAG} is the caller's to set.
     */
    int add(long unit, long len, long prev) {
        int i = direct ? (int) unit * STRIDE : freeSlotFor(unit);
        long[] r = rec;
        r[i + KEY] = unit;
        r[i + LEN] = len;
        r[i + PREV] = prev;
        count++;
        return i;
    }

    /** Removes the record at index {@code i}; in a hash, records after it in its cluster may move back. */
    void remove(int i) {
        count--;
        long[] r = rec;
        if (direct) {
            r[i] = EMPTY;
            return;
        }
        int mask = r.length - STRIDE;
        int hole = i;
        for (int j = (hole + STRIDE) & mask; r[j] != EMPTY; j = (j + STRIDE) & mask) {
            int home = home(r[j]);
            // Move record j back into the hole unless its home lies cyclically in (hole, j].
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                System.arraycopy(r, j, r, hole, STRIDE);
                hole = j;
            }
        }
        r[hole] = EMPTY;
    }

    /** {@return whether records stay where they are added (a record per unit), for tests} */
    boolean isDirect() {
        return direct;
    }

    /** {@return the keys of every record, sorted, for tests} */
    long[] keys() {
        long[] keys = new long[count];
        int n = 0;
        for (int i = 0; i < rec.length; i += STRIDE) {
            if (rec[i] != EMPTY) {
                keys[n++] = rec[i];
            }
        }
        Arrays.sort(keys);
        return keys;
    }
}
