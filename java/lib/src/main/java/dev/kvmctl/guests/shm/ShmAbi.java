package dev.kvmctl.guests.shm;

/**
 * The numbers of {@code docs/shared-memory-abi.md}: ports, mailbox layout, operations, statuses.
 * The guest side declares the same numbers in {@code vm-images/include/kvmctl_shm.h}.
 */
public final class ShmAbi {
    private ShmAbi() {}

    /** {@code out dx, eax} here with the mailbox's guest-physical address in EAX. */
    public static final int CALL_PORT = 0x510;
    /** VM n's doorbell is port {@code DOORBELL_BASE + n}. */
    public static final int DOORBELL_BASE = 0x520;
    /** Doorbell ports exist for VMs 0..15. */
    public static final int MAX_VMS = 16;

    /** A mailbox is one 4 KiB page of the caller's RAM, 4 KiB aligned, not page 0. */
    public static final int MAILBOX_SIZE = 4096;
    /** A mailbox's first word: "KSHM" in ASCII, read little-endian. */
    public static final int MAILBOX_MAGIC = 0x4d48534b;
    /** The most requests one call carries: as many 32-byte requests as fit the page after its header. */
    public static final int MAX_REQUESTS = 127;

    /** Mailbox offset of the magic (u32). */
    public static final int OFF_MAGIC = 0;
    /** Mailbox offset of {@code count} (u32): requests in this call, 1 to {@link #MAX_REQUESTS}. */
    public static final int OFF_COUNT = 4;
    /** Mailbox offset of {@code completed} (u32, out): requests processed; untouched when the mailbox was unreadable. */
    public static final int OFF_COMPLETED = 8;
    /** Mailbox offset of {@code error} (u32, out): 0, or {@link #BAD_MAILBOX}. */
    public static final int OFF_ERROR = 12;
    /** Mailbox offset of the first request; request i is at {@code OFF_REQUESTS + REQUEST_SIZE * i}. */
    public static final int OFF_REQUESTS = 16;
    /** Bytes per request. */
    public static final int REQUEST_SIZE = 32;

    /** Request offset of {@code op} (u32): one of the {@code OP_} codes. */
    public static final int REQ_OP = 0;
    /** Request offset of {@code status} (u32, out): one of the status codes. */
    public static final int REQ_STATUS = 4;
    /** Request offset of argument {@code a0} (u64, in/out). */
    public static final int REQ_A0 = 8;
    /** Request offset of argument {@code a1} (u64, in/out). */
    public static final int REQ_A1 = 16;
    /** Request offset of argument {@code a2} (u64, in/out). */
    public static final int REQ_A2 = 24;

    /** ALLOC: a0 = bytes; out a1 = the block's guest-physical address, a2 = its size. */
    public static final int OP_ALLOC = 1;
    /** FREE: a0 = a block's address, which the caller owns. */
    public static final int OP_FREE = 2;
    /** SEND: a0 = block address, a1 = length, a2 = destination VM; the block becomes the destination's. */
    public static final int OP_SEND = 3;
    /** RECV: out a0 = block address, a1 = length, a2 = sender; waits while the inbox is empty and a sender is left. */
    public static final int OP_RECV = 4;
    /** POLL: as RECV, but answers {@link #EMPTY} instead of waiting. */
    public static final int OP_POLL = 5;
    /** WAIT: waits until this VM's doorbell rings, or no other VM is left. */
    public static final int OP_WAIT = 6;
    /** REPORT: a0 = messages verified, a1 = payload bytes verified, a2 = errors, for the host's report. */
    public static final int OP_REPORT = 7;
    /** YIELD: offers the host CPU to another VM in one-thread mode; no effect otherwise. */
    public static final int OP_YIELD = 8;
    /**
     * RINGS: a0 = guest-physical address of the ring area, a1 = entries per ring, a2 = peers
     * (VMs + 1: the host's endpoint is the last). The first RINGS sets the area up
     * ({@link SharedMemoryHub#enableRings}); BAD_OP when it does not fit in the region.
     */
    public static final int OP_RINGS = 9;

    /** Entries per ring (a power of two), as RINGS reports. */
    public static final int RING_ENTRIES = 256;
    /** A ring's header: the producer's cache line, then the consumer's. */
    public static final int RING_HEADER = 128;
    /** One ring entry: u64 block offset from the region's start, u32 length, u32 reserved. */
    public static final int RING_ENTRY_SIZE = 16;
    /** u64 entries published, free-running; written by the producer only. */
    public static final int RING_HEAD = 0;
    /** u32 1 while the producer sleeps waiting for space; written by the producer only. */
    public static final int RING_PROD_WAITING = 8;
    /** u64 entries released, free-running; written by the consumer only. */
    public static final int RING_TAIL = 64;
    /** u32 1 while the consumer sleeps waiting for messages; written by the consumer only. */
    public static final int RING_CONS_WAITING = 72;
    /** Bytes of one ring: header and {@link #RING_ENTRIES} entries. */
    public static final int RING_BYTES = RING_HEADER + RING_ENTRIES * RING_ENTRY_SIZE;

    /** The request succeeded. */
    public static final int OK = 0;
    /** Unknown operation. */
    public static final int BAD_OP = 1;
    /** ALLOC of 0 bytes or of more than the region. */
    public static final int BAD_SIZE = 2;
    /** No idle block is large enough now. */
    public static final int NO_SPACE = 3;
    /** Not the start of a block of the shared region. */
    public static final int BAD_ADDRESS = 4;
    /** The block is idle, or belongs to another VM. */
    public static final int NOT_OWNER = 5;
    /** SEND length 0 or larger than the block. */
    public static final int BAD_LENGTH = 6;
    /** SEND to a VM that does not exist, has ended, or is the sender. */
    public static final int NO_SUCH_VM = 7;
    /** POLL found nothing. */
    public static final int EMPTY = 8;
    /** RECV or WAIT: the inbox is empty and every other VM has ended. */
    public static final int NO_MORE_SENDERS = 9;
    /** In the mailbox's {@code error} field: wrong magic or count; nothing was processed. */
    public static final int BAD_MAILBOX = 10;
    /** ALLOC would take this VM past its {@link Quotas}. */
    public static final int QUOTA = 11;

    private static final String[] STATUS_NAMES = {"OK", "BAD_OP", "BAD_SIZE", "NO_SPACE", "BAD_ADDRESS", "NOT_OWNER",
        "BAD_LENGTH", "NO_SUCH_VM", "EMPTY", "NO_MORE_SENDERS", "BAD_MAILBOX", "QUOTA"};
    private static final String[] OP_NAMES = {"?", "ALLOC", "FREE", "SEND", "RECV", "POLL", "WAIT", "REPORT", "YIELD", "RINGS"};

    /**
     * Names a status code for reports.
     *
     * @param status a status code, known or not
     * @return its name ({@code "QUOTA"}), or {@code "status N"} for an unknown code
     */
    public static String statusName(int status) {
        return status >= 0 && status < STATUS_NAMES.length ? STATUS_NAMES[status] : "status " + status;
    }

    /**
     * Names an operation code for reports.
     *
     * @param op an operation code, known or not
     * @return its name ({@code "SEND"}), or {@code "op N"} for an unknown code
     */
    public static String opName(int op) {
        return op > 0 && op < OP_NAMES.length ? OP_NAMES[op] : "op " + op;
    }

    /** Number of distinct status codes, for counters. */
    static final int STATUSES = STATUS_NAMES.length;
}
