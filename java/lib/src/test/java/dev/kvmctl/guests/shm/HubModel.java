package dev.kvmctl.guests.shm;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * An independent model of the hub's rules, written from {@code docs/shared-memory-abi.md} and
 * {@code BlockAllocator}'s documented best fit, not from {@link HubRules}: which blocks are live
 * (where, how large, who holds them, who pays for them), each VM's charge, inbox, doorbell and
 * whether it has ended. {@link #check} tells whether one answer of the rules is the one the ABI
 * allows and, if so, applies it; {@link MailboxFuzzTest} runs it beside the real rules.
 */
final class HubModel {
    /** Every block's offset and size is a multiple of this (the ABI's granule for regions up to 16 MiB). */
    static final long GRANULE = 64;

    private record Block(long size, int payer, int holder) {}

    private record Sent(long address, long length, int sender) {}

    final int vms;
    final long base;
    final long size;
    final long quotaBlocks;
    final long quotaBytes;
    /** Live blocks by offset in the region. */
    private final TreeMap<Long, Block> live = new TreeMap<>();
    private final long[] chargedBlocks;
    private final long[] chargedBytes;
    private final boolean[] ended;
    private final boolean[] rung;
    private final List<ArrayDeque<Sent>> inbox = new ArrayList<>();

    /**
     * {@code vms} VMs sharing {@code size} bytes at {@code base}; quotas of 0 mean the ABI's
     * defaults (4,096 blocks; the region over the VMs, rounded down to the granule, at least one).
     */
    HubModel(int vms, long base, long size, long quotaBlocks, long quotaBytes) {
        this.vms = vms;
        this.base = base;
        this.size = size;
        this.quotaBlocks = quotaBlocks == 0 ? 4096 : quotaBlocks;
        this.quotaBytes = quotaBytes == 0 ? Math.max(GRANULE, size / vms / GRANULE * GRANULE) : quotaBytes;
        chargedBlocks = new long[vms];
        chargedBytes = new long[vms];
        ended = new boolean[vms];
        rung = new boolean[vms];
        for (int i = 0; i < vms; i++) {
            inbox.add(new ArrayDeque<>());
        }
    }

    long chargedBlocks(int vm) {
        return chargedBlocks[vm];
    }

    long chargedBytes(int vm) {
        return chargedBytes[vm];
    }

    boolean ended(int vm) {
        return ended[vm];
    }

    int liveBlocks() {
        return live.size();
    }

    /**
     * Checks that VM {@code vm}'s request {@code (op, a0, a1, a2)} may be answered with
     * {@code status} ({@link HubRules#WAIT} for a request that waits) and outputs {@code out}, and
     * applies it. Fails with an {@link AssertionError} naming the rule that was broken.
     */
    void check(int vm, int op, long a0, long a1, long a2, int status, Request out) {
        Supplier<String> what = () -> ShmAbi.opName(op) + "(" + a0 + ", " + a1 + ", " + a2 + ") of VM " + vm + " -> "
                + (status == HubRules.WAIT ? "WAIT" : ShmAbi.statusName(status)) + " (" + out.a0 + ", " + out.a1 + ", " + out.a2 + ")";
        if (ended[vm]) {
            expect(status == ShmAbi.NO_MORE_SENDERS, what, "a VM that has ended gets NO_MORE_SENDERS for anything");
            unchanged(out, a0, a1, a2, what);
            return;
        }
        switch (op) {
            case ShmAbi.OP_ALLOC -> alloc(vm, a0, status, out, what);
            case ShmAbi.OP_FREE -> {
                unchanged(out, a0, a1, a2, what);
                if (!inRegion(a0)) {
                    expect(status == ShmAbi.BAD_ADDRESS, what, "FREE outside the region is BAD_ADDRESS");
                    return;
                }
                Block b = live.get(a0 - base);
                if (b == null) {
                    expect(status == ShmAbi.BAD_ADDRESS || status == ShmAbi.NOT_OWNER, what,
                            "FREE of no live block is BAD_ADDRESS (no block starts there) or NOT_OWNER (an idle one does)");
                } else if (b.holder != vm) {
                    expect(status == ShmAbi.NOT_OWNER, what, "FREE of another VM's block is NOT_OWNER");
                } else {
                    expect(status == ShmAbi.OK, what, "FREE of a block the VM holds succeeds");
                    release(a0 - base, b);
                }
            }
            case ShmAbi.OP_SEND -> send(vm, a0, a1, a2, status, out, what);
            case ShmAbi.OP_RECV, ShmAbi.OP_POLL -> {
                Sent m = inbox.get(vm).peek();
                if (m != null) {
                    expect(status == ShmAbi.OK && out.a0 == m.address && out.a1 == m.length && out.a2 == m.sender, what,
                            "the oldest message in the inbox, " + m);
                    inbox.get(vm).poll();
                    return;
                }
                unchanged(out, a0, a1, a2, what);
                int empty = !anotherLives(vm) ? ShmAbi.NO_MORE_SENDERS : op == ShmAbi.OP_POLL ? ShmAbi.EMPTY : HubRules.WAIT;
                expect(status == empty, what, "an empty inbox gives " + (empty == HubRules.WAIT ? "WAIT" : ShmAbi.statusName(empty)));
            }
            case ShmAbi.OP_WAIT -> {
                unchanged(out, a0, a1, a2, what);
                int want = rung[vm] ? ShmAbi.OK : anotherLives(vm) ? HubRules.WAIT : ShmAbi.NO_MORE_SENDERS;
                expect(status == want, what, "WAIT with the doorbell " + (rung[vm] ? "rung" : "quiet"));
                if (want == ShmAbi.OK) {
                    rung[vm] = false;
                }
            }
            case ShmAbi.OP_REPORT, ShmAbi.OP_YIELD -> {
                unchanged(out, a0, a1, a2, what);
                expect(status == ShmAbi.OK, what, "REPORT and YIELD always succeed");
            }
            default -> {
                unchanged(out, a0, a1, a2, what);
                expect(status == ShmAbi.BAD_OP, what, "an unknown operation is BAD_OP");
            }
        }
    }

    private void alloc(int vm, long bytes, int status, Request out, Supplier<String> what) {
        expect(out.a0 == bytes, what, "ALLOC leaves a0 as it was");
        if (bytes <= 0 || bytes > size) {
            expect(status == ShmAbi.BAD_SIZE, what, "ALLOC of 0 bytes or of more than the region is BAD_SIZE");
            return;
        }
        long n = (bytes + GRANULE - 1) / GRANULE * GRANULE;
        if (chargedBlocks[vm] >= quotaBlocks || n > quotaBytes - chargedBytes[vm]) {
            long free = chargedBlocks[vm] >= quotaBlocks ? 0 : quotaBytes - chargedBytes[vm];
            expect(status == ShmAbi.QUOTA && out.a1 == quotaBytes && out.a2 == free, what,
                    "QUOTA with a1 = " + quotaBytes + " and a2 = " + free + " (charged " + chargedBlocks[vm] + " blocks, "
                            + chargedBytes[vm] + " bytes)");
            return;
        }
        // Best fit over the idle runs between live blocks: the smallest that holds n, lowest first.
        long bestStart = -1, bestLength = Long.MAX_VALUE, largest = 0, at = 0;
        for (Map.Entry<Long, Block> e : live.entrySet()) {
            long gap = e.getKey() - at;
            largest = Math.max(largest, gap);
            if (gap >= n && gap < bestLength) {
                bestStart = at;
                bestLength = gap;
            }
            at = e.getKey() + e.getValue().size;
        }
        long gap = size - at;
        largest = Math.max(largest, gap);
        if (gap >= n && gap < bestLength) {
            bestStart = at;
        }
        if (bestStart < 0) {
            expect(status == ShmAbi.NO_SPACE && out.a2 == largest, what,
                    "NO_SPACE with a2 = the largest idle block, " + largest + " bytes");
            return;
        }
        expect(status == ShmAbi.OK && out.a1 == base + bestStart && out.a2 == n, what,
                "OK with the best fit: a " + n + "-byte block at " + (base + bestStart));
        live.put(bestStart, new Block(n, vm, vm));
        chargedBlocks[vm]++;
        chargedBytes[vm] += n;
    }

    private void send(int vm, long address, long length, long dest, int status, Request out, Supplier<String> what) {
        unchanged(out, address, length, dest, what);
        if (!inRegion(address)) {
            expect(status == ShmAbi.BAD_ADDRESS, what, "SEND outside the region is BAD_ADDRESS");
            return;
        }
        if (dest < 0 || dest >= vms || dest == vm || ended[(int) dest]) {
            expect(status == ShmAbi.NO_SUCH_VM, what, "SEND to no other live VM is NO_SUCH_VM");
            return;
        }
        Block b = live.get(address - base);
        if (b == null) {
            expect(status == ShmAbi.BAD_ADDRESS || status == ShmAbi.NOT_OWNER, what, "SEND of no live block");
            return;
        }
        if (b.holder != vm) {
            expect(status == ShmAbi.NOT_OWNER, what, "SEND of another VM's block is NOT_OWNER");
            return;
        }
        if (length <= 0 || length > b.size) {
            expect(status == ShmAbi.BAD_LENGTH, what, "SEND of 0 bytes or more than the block is BAD_LENGTH");
            return;
        }
        expect(status == ShmAbi.OK, what, "SEND of a block the VM holds to a live peer succeeds");
        live.put(address - base, new Block(b.size, b.payer, (int) dest));
        inbox.get((int) dest).add(new Sent(address, length, vm));
    }

    /** A peer rang VM {@code vm}'s doorbell. */
    void rang(int vm) {
        rung[vm] = true;
    }

    /** VM {@code vm} ended: what it holds goes back, each block's payer gets its charge back. */
    void end(int vm) {
        ended[vm] = true;
        inbox.get(vm).clear();
        live.entrySet().removeIf(e -> {
            if (e.getValue().holder == vm) {
                uncharge(e.getValue());
                return true;
            }
            return false;
        });
    }

    /** Whether a request of VM {@code vm} that waited ({@code op} RECV or WAIT) can now complete. */
    boolean ready(int vm, int op) {
        return op == ShmAbi.OP_RECV ? !inbox.get(vm).isEmpty() || !anotherLives(vm) : rung[vm] || !anotherLives(vm);
    }

    private void release(long offset, Block b) {
        live.remove(offset);
        uncharge(b);
    }

    private void uncharge(Block b) {
        chargedBlocks[b.payer]--;
        chargedBytes[b.payer] -= b.size;
    }

    private boolean anotherLives(int vm) {
        for (int i = 0; i < vms; i++) {
            if (i != vm && !ended[i]) {
                return true;
            }
        }
        return false;
    }

    private boolean inRegion(long address) {
        return address >= base && address - base < size;
    }

    private static void unchanged(Request out, long a0, long a1, long a2, Supplier<String> what) {
        expect(out.a0 == a0 && out.a1 == a1 && out.a2 == a2, what, "a0..a2 are answered unchanged");
    }

    private static void expect(boolean ok, Supplier<String> what, String rule) {
        if (!ok) {
            throw new AssertionError(what.get() + ": the ABI says " + rule);
        }
    }
}
