package dev.kvmctl.guests.shm;

import dev.kvmctl.memory.AllocationResult;
import dev.kvmctl.memory.BlockAllocator;
import dev.kvmctl.memory.BlockResult;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * The request rules of {@code docs/shared-memory-abi.md}, as pure logic over a
 * {@link BlockAllocator}: what each operation does for VM n, which status it gets, when it must
 * wait, what a VM's quota allows, and what happens when a VM ends. No KVM, no threads, no guest
 * memory: {@link SharedMemoryHub} decodes the mailbox ({@link MailboxCodec}), hands each request
 * here and takes care of doorbells. Every method holds this object's lock, so VM threads may call
 * it directly.
 *
 * <p>Quota accounting: a block is charged to the VM that allocated it (its payer) until it is
 * freed, by whoever holds it then, or reclaimed when its holder ends. The payer of each block
 * is kept per granule of the region, and what each VM holds per payer, so that reclaiming a VM's
 * blocks gives every payer its charge back without a list of blocks. The hub must be the only
 * user of the allocator's owners 0..vms-1.
 */
final class HubRules {
    /** What {@link #execute} answers when the request must wait (RECV, WAIT). */
    static final int WAIT = -1;

    private final BlockAllocator allocator;
    private final long base;
    private final long size;
    private final long granuleMask;
    private final int granuleShift;
    private final long quotaBlocks;
    private final long quotaBytes;
    /** Payer + 1 of the block starting at each granule; 0 when unknown (no block, or not allocated through these rules). */
    private final byte[] payer;
    private final Vm[] vms;
    /** The ring area's offset in the region, or -1 while the host serves no rings (RINGS is BAD_OP). */
    private long ringArea = -1;
    /** Whether the host's own endpoint ({@link ShmEndpoint}) is open: a peer that may still send. */
    private boolean hostPeer;

    /**
     * Rules for {@code count} VMs (indices 0..count-1, which are also their allocator owner ids)
     * over {@code allocator}, whose region guests see at {@code base}.
     */
    HubRules(BlockAllocator allocator, long base, int count, Quotas quotas) {
        if (count < 1 || count > ShmAbi.MAX_VMS) {
            throw new IllegalArgumentException("1 to " + ShmAbi.MAX_VMS + " VMs can share a region, not " + count);
        }
        this.allocator = allocator;
        this.base = base;
        this.size = allocator.size();
        this.granuleMask = allocator.alignment() - 1;
        this.granuleShift = Long.numberOfTrailingZeros(allocator.alignment());
        Quotas q = quotas.resolve(size, allocator.alignment(), count);
        this.quotaBlocks = q.blocks();
        this.quotaBytes = q.bytes();
        // One byte per granule: bounded by the region's size over its granule, like the allocator.
        long granules = size >>> granuleShift;
        if (granules > BlockAllocator.MAX_BLOCKS) {
            throw new IllegalArgumentException("a region of " + size + " bytes in granules of " + allocator.alignment()
                    + " bytes has too many granules for the hub; use a larger granule");
        }
        this.payer = new byte[(int) granules];
        this.vms = new Vm[count];
        for (int i = 0; i < count; i++) {
            vms[i] = new Vm(count);
        }
    }

    /** The quotas in force, defaults filled in. */
    Quotas quotas() {
        return new Quotas(quotaBlocks, quotaBytes);
    }

    /** How many VMs these rules serve. */
    int count() {
        return vms.length;
    }

    /**
     * Runs one request of VM {@code vm}: fills in its outputs and returns its status, or
     * {@link #WAIT} (nothing changed, outputs untouched) when it must wait for another VM; run it
     * again once {@link #ready} says so. A VM that has ended gets NO_MORE_SENDERS for anything
     * (its blocks are already reclaimed, so it must not take new ones).
     */
    synchronized int execute(int vm, Request r) {
        Vm v = vms[vm];
        int status = v.ended ? ShmAbi.NO_MORE_SENDERS : run(vm, v, r);
        if (status == WAIT) {
            v.waitingFor = r.op;
            return WAIT;
        }
        v.waitingFor = 0;
        r.status = status;
        v.requests++;
        v.statusCounts[status]++;
        return status;
    }

    private int run(int vm, Vm v, Request r) {
        switch (r.op) {
            case ShmAbi.OP_ALLOC:
                return alloc(vm, v, r);
            case ShmAbi.OP_FREE:
                return free(vm, r.a0);
            case ShmAbi.OP_SEND:
                return send(vm, v, r.a0, r.a1, r.a2);
            case ShmAbi.OP_RECV:
            case ShmAbi.OP_POLL: {
                Message m = v.inbox.poll();
                if (m != null) {
                    r.a0 = base + m.offset();
                    r.a1 = m.length();
                    r.a2 = m.sender();
                    v.received++;
                    return ShmAbi.OK;
                }
                if (!anotherSenderLives(vm)) {
                    return ShmAbi.NO_MORE_SENDERS;
                }
                return r.op == ShmAbi.OP_POLL ? ShmAbi.EMPTY : WAIT;
            }
            case ShmAbi.OP_WAIT:
                if (v.rung) {
                    v.rung = false;
                    return ShmAbi.OK;
                }
                return anotherSenderLives(vm) ? WAIT : ShmAbi.NO_MORE_SENDERS;
            case ShmAbi.OP_REPORT:
                v.reportedMessages = r.a0;
                v.reportedBytes = r.a1;
                v.reportedErrors = r.a2;
                v.reported = true;
                return ShmAbi.OK;
            case ShmAbi.OP_YIELD:
                v.yields++;
                v.yieldRequested = true;
                return ShmAbi.OK;
            case ShmAbi.OP_RINGS:
                if (ringArea < 0) {
                    return ShmAbi.BAD_OP;
                }
                r.a0 = base + ringArea;
                r.a1 = ShmAbi.RING_ENTRIES;
                r.a2 = vms.length + 1L;
                return ShmAbi.OK;
            default:
                return ShmAbi.BAD_OP;
        }
    }

    /** Sizes first (BAD_SIZE), then the quota (QUOTA), then free space (NO_SPACE). */
    private int alloc(int vm, Vm v, Request r) {
        long bytes = r.a0;
        if (bytes > 0 && bytes <= size) {
            long n = (bytes + granuleMask) & ~granuleMask; // no overflow: bytes <= size, a multiple of the granule
            if (v.chargedBlocks >= quotaBlocks || n > quotaBytes - v.chargedBytes) {
                r.a1 = quotaBytes;
                r.a2 = v.chargedBlocks >= quotaBlocks ? 0 : quotaBytes - v.chargedBytes;
                return ShmAbi.QUOTA;
            }
        }
        AllocationResult result = allocator.allocate(vm, bytes);
        if (result instanceof AllocationResult.Allocated a) {
            payer[(int) (a.offset() >>> granuleShift)] = (byte) (vm + 1);
            charge(vm, vm, 1, a.size());
            r.a1 = base + a.offset();
            r.a2 = a.size();
            v.allocations++;
            return ShmAbi.OK;
        }
        AllocationResult.Refused no = (AllocationResult.Refused) result;
        r.a2 = no.largestIdle();
        return no.reason() == AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH ? ShmAbi.NO_SPACE : ShmAbi.BAD_SIZE;
    }

    /** The address (inside the region), then ownership. */
    private int free(int vm, long gpa) {
        if (!contains(gpa)) {
            return ShmAbi.BAD_ADDRESS;
        }
        long offset = gpa - base;
        BlockResult r = allocator.free(vm, offset);
        if (r instanceof BlockResult.Done done) {
            int p = payerOf(offset);
            payer[(int) (offset >>> granuleShift)] = 0;
            if (p >= 0) {
                charge(vm, p, -1, -done.size());
            }
            return ShmAbi.OK;
        }
        return blockStatus(r);
    }

    /** The address, then the destination, then ownership, then the length. */
    private int send(int vm, Vm v, long gpa, long length, long dest) {
        if (!contains(gpa)) {
            return ShmAbi.BAD_ADDRESS;
        }
        if (dest < 0 || dest >= vms.length || dest == vm || vms[(int) dest].ended) {
            return ShmAbi.NO_SUCH_VM;
        }
        int to = (int) dest;
        long offset = gpa - base;
        BlockResult moved = allocator.transfer(vm, offset, to);
        if (!(moved instanceof BlockResult.Done done)) {
            return blockStatus(moved);
        }
        if (length <= 0 || length > done.size()) {
            allocator.transfer(to, offset, vm); // undo: the block stays the sender's
            return ShmAbi.BAD_LENGTH;
        }
        int p = payerOf(offset);
        if (p >= 0) {
            // The payer stays charged; only who holds the block changes.
            charge(vm, p, -1, -done.size());
            charge(to, p, 1, done.size());
        }
        vms[to].inbox.add(new Message(offset, length, vm));
        v.sent++;
        v.sentBytes += length;
        return ShmAbi.OK;
    }

    /** Holder {@code holder} gains (or, negative, loses) blocks paid for by {@code payerVm}. */
    private void charge(int holder, int payerVm, long blocks, long bytes) {
        Vm h = vms[holder];
        h.heldBlocks[payerVm] += blocks;
        h.heldBytes[payerVm] += bytes;
        Vm p = vms[payerVm];
        p.chargedBlocks += blocks;
        p.chargedBytes += bytes;
        p.peakChargedBlocks = Math.max(p.peakChargedBlocks, p.chargedBlocks);
        p.peakChargedBytes = Math.max(p.peakChargedBytes, p.chargedBytes);
    }

    private int payerOf(long offset) {
        return payer[(int) (offset >>> granuleShift)] - 1;
    }

    private boolean contains(long gpa) {
        return gpa >= base && gpa - base < size;
    }

    private static int blockStatus(BlockResult r) {
        if (r instanceof BlockResult.Done) {
            return ShmAbi.OK;
        }
        return ((BlockResult.Refused) r).reason() == BlockResult.Reason.NOT_A_BLOCK_START ? ShmAbi.BAD_ADDRESS : ShmAbi.NOT_OWNER;
    }

    private boolean anotherSenderLives(int vm) {
        if (hostPeer) {
            return true;
        }
        for (int i = 0; i < vms.length; i++) {
            if (i != vm && !vms[i].ended) {
                return true;
            }
        }
        return false;
    }

    /** From now on RINGS answers with the ring area at {@code offset} in the region. */
    synchronized void serveRings(long offset) {
        ringArea = offset;
    }

    /** Whether RINGS is served. */
    synchronized boolean servesRings() {
        return ringArea >= 0;
    }

    /** The host's endpoint opened ({@code true}) or closed: while open, WAIT and RECV may wait for it. */
    synchronized void hostPeer(boolean open) {
        hostPeer = open;
    }

    /** Whether the request VM {@code vm} waits on could now complete (or it waits on nothing). */
    synchronized boolean ready(int vm) {
        Vm v = vms[vm];
        return switch (v.waitingFor) {
            case ShmAbi.OP_RECV -> !v.inbox.isEmpty() || !anotherSenderLives(vm);
            case ShmAbi.OP_WAIT -> v.rung || !anotherSenderLives(vm);
            default -> true;
        };
    }

    /** VM {@code vm}'s doorbell rang: its next (or waiting) WAIT returns OK. Several rings count once. */
    synchronized void rang(int vm) {
        vms[vm].rung = true;
    }

    /** Whether the last YIELD asked for the CPU to go to another VM; clears the request. */
    synchronized boolean takeYield(int vm) {
        boolean y = vms[vm].yieldRequested;
        vms[vm].yieldRequested = false;
        return y;
    }

    /** Counts a call whose mailbox address was unusable (nowhere to answer). */
    synchronized void badMailboxAddress(int vm) {
        vms[vm].calls++;
        vms[vm].badMailboxAddresses++;
    }

    /** Counts a call; {@code badHeader}: its mailbox had a wrong magic or count (BAD_MAILBOX). */
    synchronized void call(int vm, boolean badHeader) {
        vms[vm].calls++;
        if (badHeader) {
            vms[vm].statusCounts[ShmAbi.BAD_MAILBOX]++;
        }
    }

    /**
     * VM {@code vm} has ended: every block it holds (its inbox included) goes back to the
     * allocator, each block's payer gets its charge back, and its later requests change nothing.
     * Returns false if it had already ended; when true, wake its peers.
     */
    synchronized boolean end(int vm) {
        Vm v = vms[vm];
        if (v.ended) {
            return false;
        }
        v.ended = true;
        v.inbox.clear(); // queued blocks already belong to vm: freeAll gives them back
        BlockAllocator.Reclaimed r = allocator.freeAll(vm);
        v.reclaimedBlocks = r.blocks();
        v.reclaimedBytes = r.bytes();
        for (int p = 0; p < vms.length; p++) {
            if (v.heldBlocks[p] != 0 || v.heldBytes[p] != 0) {
                charge(vm, p, -v.heldBlocks[p], -v.heldBytes[p]);
            }
        }
        return true;
    }

    /** Whether VM {@code vm} has ended. */
    synchronized boolean ended(int vm) {
        return vms[vm].ended;
    }

    /** Blocks VM {@code vm} has allocated and nobody has freed yet: what its quota counts. */
    synchronized long chargedBlocks(int vm) {
        return vms[vm].chargedBlocks;
    }

    /** Bytes of those blocks. */
    synchronized long chargedBytes(int vm) {
        return vms[vm].chargedBytes;
    }

    /** What VM {@code vm} did, for reports. */
    synchronized SharedMemoryHub.VmStats stats(int vm, String name) {
        Vm v = vms[vm];
        Map<String, Long> statuses = new TreeMap<>();
        for (int s = 0; s < v.statusCounts.length; s++) {
            if (v.statusCounts[s] > 0) {
                statuses.put(ShmAbi.statusName(s), v.statusCounts[s]);
            }
        }
        return new SharedMemoryHub.VmStats(vm, name, v.calls, v.requests, v.allocations, v.sent, v.sentBytes,
                v.received, v.yields, statuses, v.badMailboxAddresses, v.reported, v.reportedMessages,
                v.reportedBytes, v.reportedErrors, v.reclaimedBlocks, v.reclaimedBytes, v.peakChargedBlocks,
                v.peakChargedBytes);
    }

    /** One VM's side of the rules; guarded by the rules' lock. */
    private static final class Vm {
        final ArrayDeque<Message> inbox = new ArrayDeque<>();
        final long[] statusCounts = new long[ShmAbi.STATUSES];
        /** Blocks (and bytes) this VM holds now, by the VM that paid for them. */
        final long[] heldBlocks;
        final long[] heldBytes;
        boolean ended;
        boolean rung;
        boolean yieldRequested;
        int waitingFor;
        long chargedBlocks, chargedBytes, peakChargedBlocks, peakChargedBytes;
        long calls, requests, allocations, sent, sentBytes, received, yields, badMailboxAddresses;
        boolean reported;
        long reportedMessages, reportedBytes, reportedErrors, reclaimedBlocks, reclaimedBytes;

        Vm(int count) {
            heldBlocks = new long[count];
            heldBytes = new long[count];
        }
    }
}
