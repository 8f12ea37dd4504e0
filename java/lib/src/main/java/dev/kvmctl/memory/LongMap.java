package dev.kvmctl.memory;

import java.util.Arrays;

/**
 * A map from non-negative {@code long} keys to {@code long} values in one {@code long[]}: open
 * addressing, linear probing, key and value side by side so a probe touches one cache line, and
 * backward-shift deletion, so lookups never slow down with churn (no tombstones). Kept at most 5/8
 * full; it doubles when needed and never shrinks, so its size follows the most entries it held.
 * The allocator's parts use it instead of {@code HashMap<Long, Long>}: no boxing, no garbage.
 */
final class LongMap {
    /** The key of a free slot: keys are non-negative. */
    private static final long EMPTY = -1;
    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;

    /** Key at 2i, value at 2i+1. */
    private long[] table;
    private int shift;
    private int count;

    /** An empty map with room for a few entries. */
    LongMap() {
        table = new long[2 * 16];
        Arrays.fill(table, EMPTY);
        shift = 64 - 4;
    }

    /** {@return how many keys the map holds} */
    int size() {
        return count;
    }

    /** {@return the heap bytes of the table} */
    long footprintBytes() {
        return 8L * table.length;
    }

    private int home(long key) {
        return (int) ((key * GOLDEN) >>> shift);
    }

    /** {@return the slot holding {@code key}, or -1} A slot stays valid until the next put or remove. */
    int slotOf(long key) {
        long[] t = table;
        int mask = (t.length >> 1) - 1;
        for (int i = home(key); ; i = (i + 1) & mask) {
            long k = t[2 * i];
            if (k == key) {
                return i;
            }
            if (k == EMPTY) {
                return -1;
            }
        }
    }

    /** {@return the value in slot {@code slot}, as found by {@link #slotOf}} */
    long valueAt(int slot) {
        return table[2 * slot + 1];
    }

    /** Replaces the value in slot {@code slot}, as found by {@link #slotOf}. */
    void setValueAt(int slot, long value) {
        table[2 * slot + 1] = value;
    }

    /** {@return the value of {@code key}, or {@code absent} if the map does not hold it} */
    long get(long key, long absent) {
        int slot = slotOf(key);
        return slot < 0 ? absent : table[2 * slot + 1];
    }

    /** Adds {@code key}, which the map must not hold yet, with {@code value}. */
    void putNew(long key, long value) {
        if ((count + 1) * 8L > (table.length >> 1) * 5L) {
            grow();
        }
        long[] t = table;
        int mask = (t.length >> 1) - 1;
        int i = home(key);
        while (t[2 * i] != EMPTY) {
            i = (i + 1) & mask;
        }
        t[2 * i] = key;
        t[2 * i + 1] = value;
        count++;
    }

    /** Removes {@code key}, which the map must hold. */
    void remove(long key) {
        removeSlot(slotOf(key));
    }

    /** Removes the entry in slot {@code slot}, as found by {@link #slotOf}. */
    void removeSlot(int hole) {
        long[] t = table;
        int mask = (t.length >> 1) - 1;
        for (int j = (hole + 1) & mask; t[2 * j] != EMPTY; j = (j + 1) & mask) {
            int home = home(t[2 * j]);
            // Move entry j back into the hole unless its home lies cyclically in (hole, j].
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                t[2 * hole] = t[2 * j];
                t[2 * hole + 1] = t[2 * j + 1];
                hole = j;
            }
        }
        t[2 * hole] = EMPTY;
        count--;
    }

    /** {@return the key in slot {@code slot} of the table, or -1 if it is free: for walks over all entries} */
    long keyAt(int slot) {
        return table[2 * slot];
    }

    /** {@return the number of slots, for walks with {@link #keyAt}} */
    int capacity() {
        return table.length >> 1;
    }

    private void grow() {
        long[] old = table;
        table = new long[old.length * 2];
        Arrays.fill(table, EMPTY);
        shift--;
        count = 0;
        for (int i = 0; i < old.length; i += 2) {
            if (old[i] != EMPTY) {
                putNew(old[i], old[i + 1]);
            }
        }
    }
}
