package dev.kvmctl.guests.shm;

import dev.kvmctl.GuestMemory;

/**
 * Reads and writes the mailbox of {@code docs/shared-memory-abi.md} in a guest's own RAM. It
 * trusts nothing there: the address must name a whole page inside RAM, the header's magic and
 * count are checked before any request is read, and every access stays inside that one page. It
 * knows nothing of what requests mean ({@link HubRules} does).
 */
final class MailboxCodec {
    /** What {@link #locate} answers when the address cannot hold a mailbox. */
    static final long NO_MAILBOX = -1;

    private MailboxCodec() {}

    /**
     * The mailbox address a guest passed in EAX, or {@link #NO_MAILBOX} when it is not a 4 KiB
     * aligned page of its RAM other than page 0 (then there is nowhere to answer).
     */
    static long locate(int eax, long ramSize) {
        long mailbox = Integer.toUnsignedLong(eax);
        if (mailbox % ShmAbi.MAILBOX_SIZE != 0 || mailbox < GuestMemory.PAGE_SIZE || mailbox > ramSize - ShmAbi.MAILBOX_SIZE) {
            return NO_MAILBOX;
        }
        return mailbox;
    }

    /**
     * Checks the header of the mailbox at {@code mailbox} (from {@link #locate}) and returns its
     * request count (1..{@value ShmAbi#MAX_REQUESTS}), setting its error field to OK; or, for a
     * wrong magic or count, sets {@code completed} to 0 and {@code error} to BAD_MAILBOX and
     * returns -1 (no request is read).
     */
    static int open(GuestMemory ram, long mailbox) {
        int magic = ram.getInt(mailbox + ShmAbi.OFF_MAGIC);
        int count = ram.getInt(mailbox + ShmAbi.OFF_COUNT);
        if (magic != ShmAbi.MAILBOX_MAGIC || count < 1 || count > ShmAbi.MAX_REQUESTS) {
            ram.putInt(mailbox + ShmAbi.OFF_COMPLETED, 0);
            ram.putInt(mailbox + ShmAbi.OFF_ERROR, ShmAbi.BAD_MAILBOX);
            return -1;
        }
        ram.putInt(mailbox + ShmAbi.OFF_ERROR, ShmAbi.OK);
        return count;
    }

    /** Reads request {@code index} (below the count {@link #open} returned) into {@code into}. */
    static void read(GuestMemory ram, long mailbox, int index, Request into) {
        long at = request(mailbox, index);
        into.op = ram.getInt(at + ShmAbi.REQ_OP);
        into.status = 0;
        into.a0 = ram.getLong(at + ShmAbi.REQ_A0);
        into.a1 = ram.getLong(at + ShmAbi.REQ_A1);
        into.a2 = ram.getLong(at + ShmAbi.REQ_A2);
    }

    /** Writes the answer to request {@code index}: its status and a0..a2. */
    static void write(GuestMemory ram, long mailbox, int index, Request answer) {
        long at = request(mailbox, index);
        ram.putInt(at + ShmAbi.REQ_STATUS, answer.status);
        ram.putLong(at + ShmAbi.REQ_A0, answer.a0);
        ram.putLong(at + ShmAbi.REQ_A1, answer.a1);
        ram.putLong(at + ShmAbi.REQ_A2, answer.a2);
    }

    /** Marks the call done: {@code completed} = {@code count}. */
    static void complete(GuestMemory ram, long mailbox, int count) {
        ram.putInt(mailbox + ShmAbi.OFF_COMPLETED, count);
    }

    private static long request(long mailbox, int index) {
        if (index < 0 || index >= ShmAbi.MAX_REQUESTS) {
            throw new IllegalArgumentException("request index " + index + " is outside a mailbox");
        }
        return mailbox + ShmAbi.OFF_REQUESTS + (long) index * ShmAbi.REQUEST_SIZE;
    }
}
