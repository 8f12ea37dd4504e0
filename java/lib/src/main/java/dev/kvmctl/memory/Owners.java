package dev.kvmctl.memory;

import static dev.kvmctl.memory.BlockStore.LINK;
import static dev.kvmctl.memory.BlockStore.NIL;
import static dev.kvmctl.memory.BlockStore.TAG;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * Who holds what: each owner id gets a slot (small, dense) with its bytes and blocks in use, which
 * the hub reads for quotas, and a doubly linked list of its blocks through the {@link BlockStore}'s
 * {@code LINK} field, so {@link BlockAllocator#freeAll} reclaims a VM's blocks without scanning the
 * region. An in-use block's {@code TAG} is its owner's slot. Slots are never given back: owners are
 * expected to be few (one per VM).
 */
final class Owners {
    private final BlockStore store;
    /** Owner id to slot, open addressing; -1 marks a free entry (owner ids are non-negative). */
    private int[] keys = new int[8];
    private int[] keySlots = new int[8];
    private int[] slotOwner = new int[4];
    private long[] slotBytes = new long[4];
    private int[] slotBlocks = new int[4];
    private int[] slotHead = new int[4];
    private int slotCount;
    private int lastOwner = -1;
    private int lastSlot = -1;

    Owners(BlockStore store) {
        this.store = store;
        Arrays.fill(keys, -1);
    }

    /** {@return the slot of {@code owner}, or -1 if it never held a block} */
    int find(int owner) {
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
            slotHead = Arrays.copyOf(slotHead, capacity);
        }
        slot = slotCount++;
        slotOwner[slot] = owner;
        slotHead[slot] = NIL;
        if (2 * slotCount > keys.length) {
            keys = new int[2 * keys.length];
            keySlots = new int[keys.length];
            Arrays.fill(keys, -1);
            for (int s = 0; s < slotCount; s++) {
                putKey(slotOwner[s], s);
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

    /** {@return the first block of the slot's list, or NIL} */
    int head(int slot) {
        return slotHead[slot];
    }

    /** {@return the next block on the same owner's list, or NIL} */
    int nextOf(int id) {
        return store.low(id, LINK);
    }

    /** Gives block {@code id} of {@code bytes} bytes to {@code slot}'s owner: tags it, lists it, counts it. */
    void add(int slot, int id, long bytes) {
        store.set(id, TAG, slot);
        int first = slotHead[slot];
        store.setPair(id, LINK, NIL, first);
        if (first != NIL) {
            store.setHigh(first, LINK, id);
        }
        slotHead[slot] = id;
        slotBytes[slot] += bytes;
        slotBlocks[slot]++;
    }

    /** Takes in-use block {@code id} of {@code bytes} bytes off its owner's list and counts. */
    void remove(int id, long bytes) {
        int slot = (int) store.get(id, TAG);
        int before = store.high(id, LINK);
        int after = store.low(id, LINK);
        if (before == NIL) {
            slotHead[slot] = after;
        } else {
            store.setLow(before, LINK, after);
        }
        if (after != NIL) {
            store.setHigh(after, LINK, before);
        }
        slotBytes[slot] -= bytes;
        slotBlocks[slot]--;
    }

    /** Empties {@code slot}'s list and counts at once, after its blocks were made idle one by one. */
    void clear(int slot) {
        slotHead[slot] = NIL;
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
        return 4L * keys.length + 4L * keySlots.length + 4L * slotOwner.length + 8L * slotBytes.length
                + 4L * slotBlocks.length + 4L * slotHead.length;
    }

    /**
     * Checks every slot against what the blocks say ({@code perSlotBytes}, {@code perSlotBlocks},
     * counted from the address order) and walks its list.
     *
     * @throws IllegalStateException naming the first disagreement
     */
    void check(long[] perSlotBytes, int[] perSlotBlocks) {
        for (int s = 0; s < slotCount; s++) {
            BlockAllocator.check(find(slotOwner[s]) == s, "owner " + slotOwner[s] + " does not map to its slot");
            int count = 0;
            long bytes = 0;
            int previous = NIL;
            for (int b = slotHead[s]; b != NIL; b = nextOf(b)) {
                BlockAllocator.check(store.get(b, TAG) == s, "owner list of " + slotOwner[s] + " holds a block it does not own");
                BlockAllocator.check(store.high(b, LINK) == previous, "owner list of " + slotOwner[s] + " has a wrong back link");
                BlockAllocator.check(++count <= perSlotBlocks[s], "owner list of " + slotOwner[s] + " is too long");
                bytes += store.get(b, BlockStore.LEN);
                previous = b;
            }
            BlockAllocator.check(count == perSlotBlocks[s] && count == slotBlocks[s],
                    "owner " + slotOwner[s] + " block count disagrees");
            BlockAllocator.check(bytes == perSlotBytes[s] && bytes == slotBytes[s],
                    "owner " + slotOwner[s] + " byte count disagrees");
        }
    }
}
