package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.memory.BlockAllocator;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** The hub's request rules as pure logic: no KVM, no guest, no threads. */
class HubRulesTest {
    private static final long BASE = SharedRegion.DEFAULT_GUEST_ADDRESS;
    private static final long MIB = 1 << 20;

    private static HubRules rules(long size, int vms, Quotas quotas) {
        return new HubRules(new BlockAllocator(size), BASE, vms, quotas);
    }

    private static Request run(HubRules rules, int vm, int op, long a0, long a1, long a2) {
        Request r = Request.of(op, a0, a1, a2);
        int status = rules.execute(vm, r);
        if (status != HubRules.WAIT) {
            assertEquals(status, r.status);
        }
        r.status = status;
        return r;
    }

    private static long alloc(HubRules rules, int vm, long bytes) {
        Request r = run(rules, vm, ShmAbi.OP_ALLOC, bytes, 0, 0);
        assertEquals(ShmAbi.OK, r.status, r::toString);
        return r.a1;
    }

    private static int status(HubRules rules, int vm, int op, long a0, long a1, long a2) {
        return run(rules, vm, op, a0, a1, a2).status;
    }

    @Test
    void defaultsAreAFairShareOfBytesAndABlockCount() {
        assertEquals(new Quotas(Quotas.DEFAULT_BLOCKS, 512 * 1024), rules(MIB, 2, Quotas.defaults()).quotas());
        assertEquals(new Quotas(Quotas.DEFAULT_BLOCKS, 349504), rules(MIB, 3, Quotas.defaults()).quotas());
        assertEquals(new Quotas(Quotas.DEFAULT_BLOCKS, MIB), rules(MIB, 1, Quotas.defaults()).quotas());
        assertEquals(new Quotas(10, 4096), rules(MIB, 2, new Quotas(10, 4096)).quotas());
        assertEquals(new Quotas(10, 64), new Quotas(10, 0).resolve(1024, 64, 16), "at least one granule");
        assertThrows(IllegalArgumentException.class, () -> new Quotas(-1, 0));
        assertThrows(IllegalArgumentException.class, () -> Quotas.defaults().withBytes(-5));
        assertThrows(IllegalArgumentException.class, () -> rules(MIB, 0, Quotas.defaults()));
        assertThrows(IllegalArgumentException.class, () -> rules(MIB, ShmAbi.MAX_VMS + 1, Quotas.defaults()));
    }

    @Test
    void theBlockQuotaRefusesWithQuotaAndChangesNothing() {
        HubRules rules = rules(MIB, 2, new Quotas(3, 0));
        for (int i = 0; i < 3; i++) {
            alloc(rules, 0, 64);
        }
        Request no = run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0);
        assertEquals(ShmAbi.QUOTA, no.status);
        assertEquals(512 * 1024, no.a1, "a1: the byte quota");
        assertEquals(0, no.a2, "a2: 0, the block quota is used up");
        assertEquals(3, rules.chargedBlocks(0));
        assertEquals(192, rules.chargedBytes(0));
        alloc(rules, 1, 64); // the peer's own quota is untouched
    }

    @Test
    void theByteQuotaCountsRoundedBlocks() {
        HubRules rules = rules(MIB, 2, new Quotas(0, 1000));
        Request no = run(rules, 0, ShmAbi.OP_ALLOC, 1000, 0, 0);
        assertEquals(ShmAbi.QUOTA, no.status, "1000 bytes take a 1024-byte block");
        assertEquals(1000, no.a1);
        assertEquals(1000, no.a2, "all of the quota is still free");
        alloc(rules, 0, 960);
        Request over = run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0);
        assertEquals(ShmAbi.QUOTA, over.status);
        assertEquals(40, over.a2);
    }

    @Test
    void sizesAreCheckedBeforeTheQuotaAndTheQuotaBeforeFreeSpace() {
        HubRules rules = rules(4096, 2, new Quotas(1, 0));
        alloc(rules, 0, 64);
        assertEquals(ShmAbi.BAD_SIZE, status(rules, 0, ShmAbi.OP_ALLOC, 0, 0, 0));
        assertEquals(ShmAbi.BAD_SIZE, status(rules, 0, ShmAbi.OP_ALLOC, 4097, 0, 0));
        assertEquals(ShmAbi.BAD_SIZE, status(rules, 0, ShmAbi.OP_ALLOC, -1, 0, 0), "2^64 - 1 from a guest");
        assertEquals(ShmAbi.QUOTA, status(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0));
        // VM 1 within its quota, but the region is full: NO_SPACE, a2 = the largest idle block.
        HubRules full = rules(4096, 2, new Quotas(0, 8192));
        alloc(full, 0, 4096);
        Request r = run(full, 1, ShmAbi.OP_ALLOC, 64, 0, 0);
        assertEquals(ShmAbi.NO_SPACE, r.status);
        assertEquals(0, r.a2);
    }

    @Test
    void aBlockStaysChargedToItsAllocatorUntilItIsFreed() {
        HubRules rules = rules(MIB, 2, new Quotas(2, 0));
        long a = alloc(rules, 0, 100);
        long b = alloc(rules, 0, 100);
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_SEND, a, 10, 1));
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_SEND, b, 10, 1));
        assertEquals(2, rules.chargedBlocks(0), "sent blocks are still VM 0's to pay for");
        assertEquals(0, rules.chargedBlocks(1));
        assertEquals(ShmAbi.QUOTA, status(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0));
        // VM 1 was handed two blocks, yet its own quota is whole.
        alloc(rules, 1, 64);
        alloc(rules, 1, 64);
        Request got = run(rules, 1, ShmAbi.OP_RECV, 0, 0, 0);
        assertEquals(ShmAbi.OK, got.status);
        assertEquals(a, got.a0);
        assertEquals(10, got.a1);
        assertEquals(0, got.a2);
        assertEquals(ShmAbi.OK, status(rules, 1, ShmAbi.OP_FREE, a, 0, 0));
        assertEquals(1, rules.chargedBlocks(0), "freed by the receiver: the sender's quota comes back");
        alloc(rules, 0, 64);
    }

    @Test
    void anEndingVmGivesBackWhatItHoldsAndItsPayersTheirQuota() {
        HubRules rules = rules(MIB, 3, Quotas.defaults());
        long a = alloc(rules, 0, 1000);
        alloc(rules, 0, 64);
        alloc(rules, 1, 5000);
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_SEND, a, 1000, 1)); // queued in VM 1's inbox
        assertTrue(rules.end(1));
        assertFalse(rules.end(1), "ends once");
        assertEquals(1, rules.chargedBlocks(0), "VM 0's block in VM 1's inbox was reclaimed and uncharged");
        assertEquals(64, rules.chargedBytes(0));
        assertEquals(0, rules.chargedBlocks(1));
        SharedMemoryHub.VmStats s = rules.stats(1, "vm1");
        assertEquals(2, s.reclaimedBlocks());
        assertEquals(1024 + 5056, s.reclaimedBytes());
        assertEquals(ShmAbi.NO_SUCH_VM, status(rules, 0, ShmAbi.OP_SEND, alloc(rules, 0, 64), 1, 1));
        assertEquals(ShmAbi.NO_MORE_SENDERS, status(rules, 1, ShmAbi.OP_ALLOC, 64, 0, 0), "an ended VM gets nothing");
        assertTrue(rules.end(0));
        assertTrue(rules.end(2));
        assertEquals(0, rules.chargedBlocks(0));
    }

    @Test
    void recvWaitsWhileAPeerLivesAndEndsWhenNoneDoes() {
        HubRules rules = rules(MIB, 2, Quotas.defaults());
        assertEquals(HubRules.WAIT, status(rules, 1, ShmAbi.OP_RECV, 0, 0, 0));
        assertFalse(rules.ready(1));
        assertEquals(ShmAbi.EMPTY, status(rules, 1, ShmAbi.OP_POLL, 0, 0, 0));
        long a = alloc(rules, 0, 64);
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_SEND, a, 64, 1));
        assertTrue(rules.ready(1), "a message is there now");
        Request got = run(rules, 1, ShmAbi.OP_RECV, 0, 0, 0);
        assertEquals(ShmAbi.OK, got.status);
        assertEquals(a, got.a0);
        assertEquals(HubRules.WAIT, status(rules, 1, ShmAbi.OP_RECV, 0, 0, 0));
        assertFalse(rules.ready(1));
        rules.end(0);
        assertTrue(rules.ready(1), "no sender is left");
        assertEquals(ShmAbi.NO_MORE_SENDERS, status(rules, 1, ShmAbi.OP_RECV, 0, 0, 0));
        assertEquals(ShmAbi.NO_MORE_SENDERS, status(rules, 1, ShmAbi.OP_POLL, 0, 0, 0));
        assertEquals(ShmAbi.NO_MORE_SENDERS, status(rules, 1, ShmAbi.OP_WAIT, 0, 0, 0));
    }

    @Test
    void waitReturnsOnceForAnyNumberOfRings() {
        HubRules rules = rules(MIB, 2, Quotas.defaults());
        assertEquals(HubRules.WAIT, status(rules, 0, ShmAbi.OP_WAIT, 0, 0, 0));
        assertFalse(rules.ready(0));
        rules.rang(0);
        rules.rang(0);
        assertTrue(rules.ready(0));
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_WAIT, 0, 0, 0));
        assertEquals(HubRules.WAIT, status(rules, 0, ShmAbi.OP_WAIT, 0, 0, 0));
        rules.rang(0); // a ring before a WAIT is remembered
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_WAIT, 0, 0, 0));
    }

    @Test
    void sendChecksAddressThenDestinationThenOwnershipThenLength() {
        HubRules rules = rules(MIB, 3, Quotas.defaults());
        long a = alloc(rules, 0, 256);
        long other = alloc(rules, 2, 64);
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_SEND, 0x100000, 1, 99));
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_SEND, BASE + MIB, 1, 1));
        assertEquals(ShmAbi.NO_SUCH_VM, status(rules, 0, ShmAbi.OP_SEND, a, 0, 0), "to itself");
        assertEquals(ShmAbi.NO_SUCH_VM, status(rules, 0, ShmAbi.OP_SEND, a, 0, 3));
        assertEquals(ShmAbi.NO_SUCH_VM, status(rules, 0, ShmAbi.OP_SEND, a, 0, -1));
        assertEquals(ShmAbi.NO_SUCH_VM, status(rules, 0, ShmAbi.OP_SEND, a, 0, Long.MAX_VALUE));
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_SEND, a + 64, 0, 1));
        assertEquals(ShmAbi.NOT_OWNER, status(rules, 0, ShmAbi.OP_SEND, other, 0, 1));
        assertEquals(ShmAbi.BAD_LENGTH, status(rules, 0, ShmAbi.OP_SEND, a, 0, 1));
        assertEquals(ShmAbi.BAD_LENGTH, status(rules, 0, ShmAbi.OP_SEND, a, 257, 1));
        assertEquals(ShmAbi.BAD_LENGTH, status(rules, 0, ShmAbi.OP_SEND, a, -1, 1));
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_FREE, a, 0, 0), "a refused SEND left the block the sender's");
    }

    @Test
    void freeChecksAddressThenOwnership() {
        HubRules rules = rules(MIB, 2, Quotas.defaults());
        long x = alloc(rules, 0, 256);
        long a = alloc(rules, 0, 256);
        alloc(rules, 0, 256);
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_FREE, 0x100000, 0, 0));
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_FREE, BASE + MIB, 0, 0));
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_FREE, a + 64, 0, 0));
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_FREE, a + 1, 0, 0));
        assertEquals(ShmAbi.BAD_ADDRESS, status(rules, 0, ShmAbi.OP_FREE, Long.MIN_VALUE, 0, 0));
        assertEquals(ShmAbi.NOT_OWNER, status(rules, 1, ShmAbi.OP_FREE, a, 0, 0));
        assertEquals(ShmAbi.NOT_OWNER, status(rules, 1, ShmAbi.OP_FREE, x, 0, 0));
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_FREE, a, 0, 0));
        assertEquals(ShmAbi.NOT_OWNER, status(rules, 0, ShmAbi.OP_FREE, a, 0, 0), "double free between blocks in use");
        assertEquals(512, rules.chargedBytes(0), "X and Y are still charged, A no longer");
    }

    @Test
    void unknownOpsReportAndYield() {
        HubRules rules = rules(MIB, 1, Quotas.defaults());
        for (int op : new int[] {0, 9, 77, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}) {
            assertEquals(ShmAbi.BAD_OP, status(rules, 0, op, 1, 2, 3));
        }
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_REPORT, 5, 6, 7));
        assertFalse(rules.takeYield(0));
        assertEquals(ShmAbi.OK, status(rules, 0, ShmAbi.OP_YIELD, 0, 0, 0));
        assertTrue(rules.takeYield(0));
        assertFalse(rules.takeYield(0));
        SharedMemoryHub.VmStats s = rules.stats(0, "solo");
        assertTrue(s.reported());
        assertEquals(5, s.reportedMessages());
        assertEquals(6, s.reportedBytes());
        assertEquals(7, s.reportedErrors());
        assertEquals(6L, s.statuses().get("BAD_OP"));
        assertEquals(6, s.refusals());
    }

    /** Issue 8: 64-byte blocks, 127 per call, never freed. The quota stops it; the peer still gets its share. */
    @Test
    void aHoardingGuestGetsQuotaAndItsPeerIsNotStarved() {
        long size = 2L << 30;
        BlockAllocator allocator = new BlockAllocator(size, BlockAllocator.granuleFor(size, SharedRegion.MAX_GRANULES));
        HubRules rules = new HubRules(allocator, BASE, 2, Quotas.defaults());
        long blocks = 0;
        int status;
        do {
            status = status(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0);
            blocks += status == ShmAbi.OK ? 1 : 0;
        } while (status == ShmAbi.OK);
        assertEquals(ShmAbi.QUOTA, status);
        assertEquals(Quotas.DEFAULT_BLOCKS, blocks);
        assertTrue(allocator.footprintBytes() < 2L << 20, "bookkeeping: " + allocator.footprintBytes() + " bytes");
        // The peer can take its whole fair share, half of the region, in one block.
        alloc(rules, 1, size / 2);
        assertEquals(ShmAbi.QUOTA, status(rules, 1, ShmAbi.OP_ALLOC, 64, 0, 0));
    }

    /** With quotas as large as can be, the granule still bounds the bookkeeping. */
    @Test
    void withoutAUsefulQuotaTheGranuleStillBoundsTheHeap() {
        long size = 2L << 30;
        BlockAllocator allocator = new BlockAllocator(size, BlockAllocator.granuleFor(size, SharedRegion.MAX_GRANULES));
        HubRules rules = new HubRules(allocator, BASE, 1, new Quotas(Long.MAX_VALUE, Long.MAX_VALUE));
        long blocks = 0;
        int status;
        do {
            status = status(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0);
            blocks += status == ShmAbi.OK ? 1 : 0;
        } while (status == ShmAbi.OK);
        assertEquals(ShmAbi.NO_SPACE, status);
        assertEquals(SharedRegion.MAX_GRANULES, blocks);
        assertTrue(allocator.footprintBytes() <= BlockAllocator.FOOTPRINT_PER_BLOCK * allocator.maxBlocks()
                + BlockAllocator.FOOTPRINT_FIXED + 1024);
        assertTrue(rules.end(0));
        assertEquals(0, allocator.stats().blocksInUse());
    }

    /**
     * Random requests with hostile arguments from four VMs, some of which end: every answer is a
     * status, the allocator stays consistent, every block in use is charged to exactly one VM, and
     * no VM is ever charged past its quota.
     */
    @Test
    void randomRequestsKeepTheBooksBalanced() {
        SplittableRandom random = new SplittableRandom(20261201);
        for (int trial = 0; trial < 20; trial++) {
            int vms = 1 + random.nextInt(4);
            BlockAllocator allocator = new BlockAllocator(64 << 10);
            Quotas q = new Quotas(1 + random.nextInt(64), 64 + random.nextInt(32 << 10));
            HubRules rules = new HubRules(allocator, BASE, vms, q);
            List<List<Long>> known = new ArrayList<>();
            for (int v = 0; v < vms; v++) {
                known.add(new ArrayList<>());
            }
            for (int step = 0; step < 5000; step++) {
                int vm = random.nextInt(vms);
                if (random.nextInt(400) == 0) {
                    rules.end(vm);
                    continue;
                }
                List<Long> mine = known.get(vm);
                long any = mine.isEmpty() || random.nextBoolean() ? hostile(random) : mine.get(random.nextInt(mine.size()));
                Request r = switch (random.nextInt(6)) {
                    case 0, 1 -> Request.of(ShmAbi.OP_ALLOC, random.nextBoolean() ? 1 + random.nextInt(4096) : hostile(random), 0, 0);
                    case 2 -> Request.of(ShmAbi.OP_FREE, any, 0, 0);
                    case 3 -> Request.of(ShmAbi.OP_SEND, any, random.nextInt(300) - 10, random.nextInt(vms + 2) - 1);
                    case 4 -> Request.of(ShmAbi.OP_POLL, hostile(random), hostile(random), hostile(random));
                    default -> Request.of(random.nextInt(12) - 1, hostile(random), hostile(random), hostile(random));
                };
                int status = rules.execute(vm, r);
                assertTrue(status == HubRules.WAIT || (status >= 0 && status < ShmAbi.STATUSES), r.toString());
                if (status == ShmAbi.OK && r.op == ShmAbi.OP_ALLOC) {
                    mine.add(r.a1);
                }
                if (status == ShmAbi.OK && r.op == ShmAbi.OP_POLL) {
                    mine.add(r.a0);
                }
                long blocks = 0;
                long bytes = 0;
                for (int v = 0; v < vms; v++) {
                    assertTrue(rules.chargedBlocks(v) <= q.blocks(), "VM " + v + " over its block quota");
                    assertTrue(rules.chargedBytes(v) <= q.bytes(), "VM " + v + " over its byte quota");
                    blocks += rules.chargedBlocks(v);
                    bytes += rules.chargedBytes(v);
                }
                assertEquals(allocator.stats().blocksInUse(), blocks, "every block in use is charged once");
                assertEquals(allocator.stats().bytesInUse(), bytes);
            }
            allocator.checkInvariants();
            for (int v = 0; v < vms; v++) {
                rules.end(v);
            }
            assertEquals(0, allocator.stats().blocksInUse());
        }
    }

    private static long hostile(SplittableRandom random) {
        long[] values = {0, 1, -1, 63, 64, 65, BASE, BASE - 1, BASE + 64, BASE + (64 << 10), Long.MAX_VALUE, Long.MIN_VALUE,
            BASE + 64L * random.nextInt(1024), random.nextLong()};
        return values[random.nextInt(values.length)];
    }
}
