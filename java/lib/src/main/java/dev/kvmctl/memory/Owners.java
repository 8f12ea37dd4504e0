package dev.kvmctl.memory;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Who holds what: each owner id gets a slot (small, dense) with its bytes and blocks in use, which
 * the hub reads for quotas. An in-use block's {@code TAG} in the {@link BlockTable} is its owner's
 * slot (the allocator sets it). There is no list of an owner's blocks: keeping one cost two cache
 * misses per free at a million blocks (the list neighbours), for {@link BlockAllocator#freeAll}
 * alone, which walks the address order instead. Slots are never given back: owners are expected
 * to be few (one per VM). Owner ids below {@value #DIRECT_OWNERS} find their slot in an array
 * (every request looks it up), larger ones in a small hash.
 */
final class Owners {
    /** Owner ids below this (VM indexes, the usual case) find their slot by one array read. */
    static final int DIRECT_OWNERS = 64;
    /** Slot + 1 of each owner id below DIRECT_OWNERS, 0 for none. */
    private final int[] directSlots = new int[DIRECT_OWNERS];
    /** Owner id to slot for larger ids, open addressing; -1 marks a free entry (owner ids are non-negative). */
    private int[] keys = new int[8];
    private int[] keySlots = new int[8];
    private int[] slotOwner = new int[4];
    private long[] slotBytes = new long[4];
    private int[] slotBlocks = new int[4];
    private int slotCount;
    private int lastOwner = -1;
    private int lastSlot = -1;

    Owners() {
        Arrays.fill(keys, -1);
    }

    /** {@return the slot of {@code owner}, or -1 if it never held a block} */
    int find(int owner) {
        if (owner < DIRECT_OWNERS) {
            return directSlots[owner] - 1;
        }
        if (owner == lastOwner) {
            return lastSlot;
        }
        int mask = keys.length - 1;
        for (int i = mix(owner) & mask; ; i = (i + 1) & mask) {
            if (keys[i] == owner) {
                lastOwner = owner;
                lastSlot = keySlots[i];
                return lastSlot;
            }
            if (keys[i] == -1) {
                return -1;
            }
        }
    }

    /** {@return the slot of {@code owner}, made now if it has none} */
    int slotFor(int owner) {
        int slot = find(owner);
        if (slot >= 0) {
            return slot;
        }
        if (slotCount == slotOwner.length) {
            int capacity = 2 * slotCount;
            slotOwner = Arrays.copyOf(slotOwner, capacity);
            slotBytes = Arrays.copyOf(slotBytes, capacity);
            slotBlocks = Arrays.copyOf(slotBlocks, capacity);
        }
        slot = slotCount++;
        slotOwner[slot] = owner;
        if (owner < DIRECT_OWNERS) {
            directSlots[owner] = slot + 1; // the hash holds only the larger ids
        } else if (2 * slotCount > keys.length) {
            keys = new int[2 * keys.length];
            keySlots = new int[keys.length];
            Arrays.fill(keys, -1);
            for (int s = 0; s < slotCount; s++) {
                if (slotOwner[s] >= DIRECT_OWNERS) {
                    putKey(slotOwner[s], s);
                }
            }
        } else {
            putKey(owner, slot);
        }
        lastOwner = owner;
        lastSlot = slot;
        return slot;
    }

    private void putKey(int owner, int slot) {
        int mask = keys.length - 1;
        int i = mix(owner) & mask;
        while (keys[i] != -1) {
            i = (i + 1) & mask;
        }
        keys[i] = owner;
        keySlots[i] = slot;
    }

    private static int mix(int x) {
        int h = x * 0x9E37_79B9;
        return h ^ (h >>> 16);
    }

    /** {@return the owner id of slot {@code slot}} */
    int owner(int slot) {
        return slotOwner[slot];
    }

    /** {@return how many slots exist} */
    int slots() {
        return slotCount;
    }

    long bytes(int slot) {
        return slotBytes[slot];
    }

    int blocks(int slot) {
        return slotBlocks[slot];
    }

    /** Counts a block of {@code bytes} bytes for {@code slot}'s owner. */
    void add(int slot, long bytes) {
        slotBytes[slot] += bytes;
        slotBlocks[slot]++;
    }

    /** Takes a block of {@code bytes} bytes off {@code slot}'s owner's counts. */
    void remove(int slot, long bytes) {
        slotBytes[slot] -= bytes;
        slotBlocks[slot]--;
    }

    /** Zeroes {@code slot}'s counts at once, after its blocks were made idle one by one. */
    void clear(int slot) {
        slotBytes[slot] = 0;
        slotBlocks[slot] = 0;
    }

    /** {@return bytes in use per owner, for owners holding at least one block} */
    Map<Integer, Long> bytesByOwner() {
        Map<Integer, Long> byOwner = new HashMap<>();
        for (int s = 0; s < slotCount; s++) {
            if (slotBlocks[s] > 0) {
                byOwner.put(slotOwner[s], slotBytes[s]);
            }
        }
        return byOwner;
    }

    /** {@return the heap bytes of the owner tables} */
    long footprintBytes() {
        return 4L * directSlots.length + 4L * keys.length + 4L * keySlots.length + 4L * slotOwner.length + 8L * slotBytes.length
                + 4L * slotBlocks.length;
    }

    /**
     * Checks every slot against what the blocks say ({@code perSlotBytes}, {@code perSlotBlocks},
     * counted from the address order).
     *
     * @throws IllegalStateException naming the first disagreement
     */
    void check(long[] perSlotBytes, int[] perSlotBlocks) {
        for (int s = 0; s < slotCount; s++) {
            BlockAllocator.check(find(slotOwner[s]) == s, "owner " + slotOwner[s] + " does not map to its slot");
            BlockAllocator.check(perSlotBlocks[s] == slotBlocks[s], "owner " + slotOwner[s] + " block count disagrees");
            BlockAllocator.check(perSlotBytes[s] == slotBytes[s],
                    "owner " + slotOwner[s] + " byte count disagrees");
        }
    }
}
