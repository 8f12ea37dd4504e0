package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.memory.BlockAllocator;
import org.junit.jupiter.api.Test;

/** RINGS and the host endpoint's part in {@link HubRules} (pure logic, no KVM). */
class HubRulesRingsTest {
    private static final long BASE = 1L << 32;

    private static Request run(HubRules rules, int vm, int op) {
        Request r = Request.of(op, 7, 8, 9);
        int status = rules.execute(vm, r);
        if (status != HubRules.WAIT) {
            assertEquals(status, r.status);
        }
        r.status = status;
        return r;
    }

    @Test
    void ringsIsBadOpUntilServedThenNamesTheArea() {
        HubRules rules = new HubRules(new BlockAllocator(1 << 20), BASE, 2, Quotas.defaults());
        Request before = run(rules, 0, ShmAbi.OP_RINGS);
        assertEquals(ShmAbi.BAD_OP, before.status);
        assertEquals(7, before.a0, "a refused RINGS changes nothing");
        rules.serveRings(4096);
        for (int vm = 0; vm < 2; vm++) {
            Request r = run(rules, vm, ShmAbi.OP_RINGS);
            assertEquals(ShmAbi.OK, r.status);
            assertEquals(BASE + 4096, r.a0);
            assertEquals(ShmAbi.RING_ENTRIES, r.a1);
            assertEquals(3, r.a2, "two VMs and the host's endpoint");
        }
        rules.end(1);
        assertEquals(ShmAbi.OK, run(rules, 0, ShmAbi.OP_RINGS).status, "still served with a peer gone");
        assertEquals("RINGS", ShmAbi.opName(ShmAbi.OP_RINGS));
    }

    @Test
    void anOpenHostEndpointIsAPeerThatMayStillSend() {
        HubRules rules = new HubRules(new BlockAllocator(1 << 20), BASE, 1, Quotas.defaults());
        assertEquals(ShmAbi.NO_MORE_SENDERS, run(rules, 0, ShmAbi.OP_WAIT).status, "alone: nobody can ring");
        rules.hostPeer(true);
        assertEquals(HubRules.WAIT, run(rules, 0, ShmAbi.OP_WAIT).status, "the host may still ring");
        assertFalse(rules.ready(0));
        rules.rang(0);
        assertTrue(rules.ready(0));
        assertEquals(ShmAbi.OK, run(rules, 0, ShmAbi.OP_WAIT).status);
        assertEquals(HubRules.WAIT, run(rules, 0, ShmAbi.OP_RECV).status, "RECV waits for the host too");
        rules.hostPeer(false);
        assertTrue(rules.ready(0), "the endpoint closed: the waiter must look again");
        assertEquals(ShmAbi.NO_MORE_SENDERS, run(rules, 0, ShmAbi.OP_RECV).status);
    }
}
