package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.kvmctl.GuestMemory;
import org.junit.jupiter.api.Test;

/** The mailbox codec over plain memory (an anonymous mapping): no KVM, no guest. */
class MailboxCodecTest {
    private static final long RAM = 1 << 20;

    @Test
    void onlyAWholeAlignedPageOfRamOtherThanPageZeroIsAMailbox() {
        assertEquals(0x1000, MailboxCodec.locate(0x1000, RAM));
        assertEquals(RAM - 4096, MailboxCodec.locate((int) (RAM - 4096), RAM));
        for (int bad : new int[] {0, 0x800, 0x1001, 0x1ffc, (int) RAM, (int) (RAM - 2048), 0xfffff000, -1, Integer.MIN_VALUE}) {
            assertEquals(MailboxCodec.NO_MAILBOX, MailboxCodec.locate(bad, RAM), Integer.toHexString(bad));
        }
        assertEquals(MailboxCodec.NO_MAILBOX, MailboxCodec.locate(0x1000, 4096), "RAM of one page has no room");
        assertEquals(0xfffff000L, MailboxCodec.locate(0xfffff000, 1L << 33), "EAX is unsigned");
    }

    @Test
    void aWrongHeaderIsAnsweredWithBadMailboxAndNothingIsRead() {
        try (GuestMemory ram = GuestMemory.anonymous(RAM)) {
            long mb = 0x2000;
            int[][] headers = {{0x12345678, 1}, {ShmAbi.MAILBOX_MAGIC, 0}, {ShmAbi.MAILBOX_MAGIC, 128},
                {ShmAbi.MAILBOX_MAGIC, -1}, {ShmAbi.MAILBOX_MAGIC, Integer.MIN_VALUE}, {0, 0}};
            for (int[] h : headers) {
                ram.putInt(mb + ShmAbi.OFF_MAGIC, h[0]);
                ram.putInt(mb + ShmAbi.OFF_COUNT, h[1]);
                ram.putInt(mb + ShmAbi.OFF_COMPLETED, -1);
                assertEquals(-1, MailboxCodec.open(ram, mb));
                assertEquals(0, ram.getInt(mb + ShmAbi.OFF_COMPLETED));
                assertEquals(ShmAbi.BAD_MAILBOX, ram.getInt(mb + ShmAbi.OFF_ERROR));
            }
            ram.putInt(mb + ShmAbi.OFF_MAGIC, ShmAbi.MAILBOX_MAGIC);
            ram.putInt(mb + ShmAbi.OFF_COUNT, ShmAbi.MAX_REQUESTS);
            assertEquals(ShmAbi.MAX_REQUESTS, MailboxCodec.open(ram, mb));
            assertEquals(ShmAbi.OK, ram.getInt(mb + ShmAbi.OFF_ERROR));
        }
    }

    @Test
    void requestsRoundTripAndTheLastOneStaysInsideThePage() {
        try (GuestMemory ram = GuestMemory.anonymous(RAM)) {
            long mb = RAM - 4096; // the last page: a request past the page would fall outside RAM
            int last = ShmAbi.MAX_REQUESTS - 1;
            long at = mb + ShmAbi.OFF_REQUESTS + (long) last * ShmAbi.REQUEST_SIZE;
            ram.putInt(at + ShmAbi.REQ_OP, ShmAbi.OP_SEND);
            ram.putInt(at + ShmAbi.REQ_STATUS, 0xdead);
            ram.putLong(at + ShmAbi.REQ_A0, -1);
            ram.putLong(at + ShmAbi.REQ_A1, Long.MIN_VALUE);
            ram.putLong(at + ShmAbi.REQ_A2, 3);
            Request r = new Request();
            MailboxCodec.read(ram, mb, last, r);
            assertEquals(ShmAbi.OP_SEND, r.op);
            assertEquals(-1, r.a0);
            assertEquals(Long.MIN_VALUE, r.a1);
            assertEquals(3, r.a2);
            r.status = ShmAbi.QUOTA;
            r.a0 = 7;
            r.a1 = 8;
            r.a2 = 9;
            MailboxCodec.write(ram, mb, last, r);
            assertEquals(ShmAbi.QUOTA, ram.getInt(at + ShmAbi.REQ_STATUS));
            assertEquals(ShmAbi.OP_SEND, ram.getInt(at + ShmAbi.REQ_OP), "the op is the guest's, never rewritten");
            assertEquals(7, ram.getLong(at + ShmAbi.REQ_A0));
            assertEquals(9, ram.getLong(at + ShmAbi.REQ_A2));
            MailboxCodec.complete(ram, mb, 127);
            assertEquals(127, ram.getInt(mb + ShmAbi.OFF_COMPLETED));
            assertThrows(IllegalArgumentException.class, () -> MailboxCodec.read(ram, mb, ShmAbi.MAX_REQUESTS, r));
            assertThrows(IllegalArgumentException.class, () -> MailboxCodec.write(ram, mb, -1, r));
        }
    }
}
