package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.memory.BlockAllocator;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Edges of the hub's rules and codecs that mutation testing (scripts/mutation.sh) found unpinned,
 * no KVM: the limits of each check exactly at the limit, addresses of blocks that do not start
 * the region, the counters a report is made of, a receiver that ends still holding blocks, the
 * mailbox's a1 field and first request, the quota defaults.
 */
class HubRulesEdgesTest {
    private static final long BASE = SharedRegion.DEFAULT_GUEST_ADDRESS;
    private static final long MIB = 1 << 20;

    private static HubRules rules(long size, int vms, Quotas quotas) {
        return new HubRules(new BlockAllocator(size), BASE, vms, quotas);
    }

    private static Request run(HubRules rules, int vm, int op, long a0, long a1, long a2) {
        Request r = Request.of(op, a0, a1, a2);
        r.status = rules.execute(vm, r);
        return r;
    }

    @Test
    void oneToSixteenVmsMayShareARegion() {
        assertEquals(1, rules(MIB, 1, Quotas.defaults()).count());
        assertEquals(ShmAbi.MAX_VMS, rules(MIB, ShmAbi.MAX_VMS, Quotas.defaults()).count());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rules(MIB, ShmAbi.MAX_VMS + 1, Quotas.defaults()));
        assertEquals("1 to 16 VMs can share a region, not 17", e.getMessage());
    }

    @Test
    void blocksAfterTheFirstAreAddressedAtTheirOffsetInTheRegion() {
        HubRules rules = rules(MIB, 2, Quotas.defaults());
        Request first = run(rules, 0, ShmAbi.OP_ALLOC, 100, 0, 0);
        Request second = run(rules, 0, ShmAbi.OP_ALLOC, 100, 0, 0);
        assertEquals(BASE, first.a1);
        assertEquals(BASE + 128, second.a1, "the second block starts after the first's 128 bytes");
        assertEquals(128, second.a2);
        assertEquals(ShmAbi.OK, run(rules, 0, ShmAbi.OP_SEND, second.a1, 77, 1).status);
        Request got = run(rules, 1, ShmAbi.OP_RECV, 0, 0, 0);
        assertEquals(ShmAbi.OK, got.status);
        assertEquals(BASE + 128, got.a0, "the receiver gets the block's own address");
        assertEquals(77, got.a1);
        assertEquals(0, got.a2, "from VM 0");
    }

    @Test
    void theWholeRegionInOneRequestIsStillSubjectToTheQuota() {
        HubRules rules = rules(MIB, 2, Quotas.defaults()); // each VM may hold half
        Request all = run(rules, 0, ShmAbi.OP_ALLOC, MIB, 0, 0);
        assertEquals(ShmAbi.QUOTA, all.status);
        assertEquals(MIB / 2, all.a1);
        assertEquals(MIB / 2, all.a2);
        assertEquals(0, rules.chargedBlocks(0));
        HubRules alone = rules(MIB, 1, Quotas.defaults());
        assertEquals(ShmAbi.OK, run(alone, 0, ShmAbi.OP_ALLOC, MIB, 0, 0).status, "one VM's share is the whole region");
    }

    @Test
    void theAddressIsCheckedFirstEvenJustPastTheRegion() {
        HubRules rules = rules(MIB, 2, Quotas.defaults());
        assertEquals(ShmAbi.BAD_ADDRESS, run(rules, 0, ShmAbi.OP_SEND, BASE + MIB, 1, 99).status, "before the destination");
        assertEquals(ShmAbi.BAD_ADDRESS, run(rules, 0, ShmAbi.OP_SEND, BASE - 1, 1, 99).status);
        assertEquals(ShmAbi.BAD_ADDRESS, run(rules, 0, ShmAbi.OP_FREE, BASE + MIB, 0, 0).status);
        long half = run(rules, 0, ShmAbi.OP_ALLOC, MIB / 2, 0, 0).a1;
        assertEquals(ShmAbi.OK, run(rules, 0, ShmAbi.OP_FREE, half, 0, 0).status);
        // A destination equal to the number of VMs is one past the last.
        long block = run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0).a1;
        assertEquals(ShmAbi.NO_SUCH_VM, run(rules, 0, ShmAbi.OP_SEND, block, 1, 2).status);
        assertEquals(ShmAbi.NO_SUCH_VM, run(rules, 0, ShmAbi.OP_SEND, block, 1, -1).status);
        assertEquals(ShmAbi.NO_SUCH_VM, run(rules, 0, ShmAbi.OP_SEND, block, 1, 0).status, "not to itself");
    }

    @Test
    void aReceiverThatEndsGivesItsSendersTheirQuotaBack() {
        HubRules rules = rules(MIB, 2, new Quotas(2, 0));
        long a = run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0).a1;
        long b = run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0).a1;
        assertEquals(ShmAbi.OK, run(rules, 0, ShmAbi.OP_SEND, a, 1, 1).status);
        assertEquals(ShmAbi.OK, run(rules, 0, ShmAbi.OP_SEND, b, 1, 1).status);
        assertEquals(ShmAbi.QUOTA, run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0).status);
        assertFalse(rules.ended(1));
        assertTrue(rules.end(1));
        assertTrue(rules.ended(1));
        assertFalse(rules.end(1), "only once");
        assertEquals(0, rules.chargedBlocks(0), "the blocks VM 1 held are free, and VM 0 no longer pays for them");
        assertEquals(0, rules.chargedBytes(0));
        assertEquals(ShmAbi.OK, run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0).status);
        assertEquals(ShmAbi.NO_MORE_SENDERS, run(rules, 1, ShmAbi.OP_ALLOC, 64, 0, 0).status, "an ended VM takes nothing new");
        SharedMemoryHub.VmStats ended = rules.stats(1, "b");
        assertEquals(2, ended.reclaimedBlocks());
        assertEquals(128, ended.reclaimedBytes());
    }

    @Test
    void theReportCountsEverything() {
        HubRules rules = rules(MIB, 2, Quotas.defaults());
        rules.call(0, false);
        rules.call(0, true);
        rules.badMailboxAddress(0);
        long a = run(rules, 0, ShmAbi.OP_ALLOC, 100, 0, 0).a1;
        run(rules, 0, ShmAbi.OP_ALLOC, 64, 0, 0);
        run(rules, 0, ShmAbi.OP_ALLOC, 0, 0, 0);          // BAD_SIZE
        run(rules, 0, ShmAbi.OP_SEND, a, 100, 1);
        run(rules, 0, ShmAbi.OP_YIELD, 0, 0, 0);
        assertTrue(rules.takeYield(0));
        assertFalse(rules.takeYield(0));
        run(rules, 0, ShmAbi.OP_YIELD, 0, 0, 0);
        run(rules, 0, ShmAbi.OP_REPORT, 5, 6, 7);
        run(rules, 0, 99, 0, 0, 0);                       // BAD_OP
        run(rules, 1, ShmAbi.OP_RECV, 0, 0, 0);
        run(rules, 1, ShmAbi.OP_POLL, 0, 0, 0);           // EMPTY
        SharedMemoryHub.VmStats s = rules.stats(0, "producer");
        assertEquals(0, s.index());
        assertEquals("producer", s.name());
        assertEquals(3, s.calls());
        assertEquals(1, s.badMailboxAddresses());
        assertEquals(8, s.requests());
        assertEquals(2, s.allocations());
        assertEquals(1, s.sent());
        assertEquals(100, s.sentBytes());
        assertEquals(2, s.yields());
        assertTrue(s.reported());
        assertEquals(5, s.reportedMessages());
        assertEquals(6, s.reportedBytes());
        assertEquals(7, s.reportedErrors());
        assertEquals(2, s.peakChargedBlocks());
        assertEquals(192, s.peakChargedBytes());
        assertEquals(Map.of("OK", 6L, "BAD_SIZE", 1L, "BAD_OP", 1L, "BAD_MAILBOX", 1L), s.statuses());
        SharedMemoryHub.VmStats r = rules.stats(1, "consumer");
        assertEquals(1, r.received());
        assertEquals(2, r.requests());
        assertEquals(Map.of("OK", 1L, "EMPTY", 1L), r.statuses());
        assertEquals(0, r.calls());
    }

    @Test
    void theMailboxAnswerFillsEveryFieldOfTheFirstRequestToo() {
        try (GuestMemory ram = GuestMemory.anonymous(64 * 1024)) {
            long mb = 4096;
            ram.putInt(mb + ShmAbi.OFF_MAGIC, ShmAbi.MAILBOX_MAGIC);
            ram.putInt(mb + ShmAbi.OFF_COUNT, 1);
            ram.putInt(mb + ShmAbi.OFF_ERROR, 0x77);
            assertEquals(1, MailboxCodec.open(ram, mb), "a call of one request");
            assertEquals(ShmAbi.OK, ram.getInt(mb + ShmAbi.OFF_ERROR));
            long at = mb + ShmAbi.OFF_REQUESTS;
            ram.putInt(at + ShmAbi.REQ_OP, ShmAbi.OP_ALLOC);
            ram.putLong(at + ShmAbi.REQ_A0, 1000);
            Request r = new Request();
            MailboxCodec.read(ram, mb, 0, r);
            assertEquals(ShmAbi.OP_ALLOC, r.op);
            assertEquals(1000, r.a0);
            r.status = ShmAbi.OK;
            r.a1 = 0x1_0000_1000L;
            r.a2 = 1024;
            MailboxCodec.write(ram, mb, 0, r);
            assertEquals(ShmAbi.OK, ram.getInt(at + ShmAbi.REQ_STATUS));
            assertEquals(1000, ram.getLong(at + ShmAbi.REQ_A0));
            assertEquals(0x1_0000_1000L, ram.getLong(at + ShmAbi.REQ_A1));
            assertEquals(1024, ram.getLong(at + ShmAbi.REQ_A2));
            assertEquals(0, ram.getLong(at + ShmAbi.REQUEST_SIZE + ShmAbi.REQ_A0), "nothing written into the next request");
            ram.putInt(mb + ShmAbi.OFF_COUNT, 0);
            assertEquals(-1, MailboxCodec.open(ram, mb), "a call of no request");
        }
    }

    @Test
    void quotasResolveTheirDefaultsAndRefuseNonsense() {
        assertEquals(new Quotas(7, 0), Quotas.defaults().withBlocks(7));
        assertEquals(new Quotas(0, 4096), Quotas.defaults().withBytes(4096));
        assertEquals(new Quotas(7, 4096), Quotas.defaults().withBlocks(7).withBytes(4096));
        assertEquals(new Quotas(Quotas.DEFAULT_BLOCKS, 4096), Quotas.defaults().resolve(4096, 64, 1));
        assertEquals(new Quotas(Quotas.DEFAULT_BLOCKS, 64), Quotas.defaults().resolve(64, 64, 1));
        for (long[] bad : new long[][] {{0, 64, 1}, {4096, 0, 1}, {4096, 64, 0}, {-1, 64, 1}}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> Quotas.defaults().resolve(bad[0], bad[1], (int) bad[2]));
            assertEquals("need a region, a granule and at least one VM", e.getMessage());
        }
    }

    @Test
    void aRequestPrintsAsTheGuestWroteItAndHowItEnded() {
        Request r = Request.of(ShmAbi.OP_SEND, 1, -2, 3);
        r.status = ShmAbi.NO_SUCH_VM;
        assertEquals("SEND(1, -2, 3) -> NO_SUCH_VM", r.toString());
    }
}
