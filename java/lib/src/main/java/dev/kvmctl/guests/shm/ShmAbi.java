package dev.kvmctl.guests.shm;

/** The numbers of {@code docs/shared-memory-abi.md}: ports, mailbox layout, operations, statuses. */
public final class ShmAbi {
    private ShmAbi() {}

    /** {@code out dx, eax} here with the mailbox's guest-physical address in EAX. */
    public static final int CALL_PORT = 0x510;
    /** VM n's doorbell is port {@code DOORBELL_BASE + n}. */
    public static final int DOORBELL_BASE = 0x520;
    /** Doorbell ports exist for VMs 0..15. */
    public static final int MAX_VMS = 16;

    public static final int MAILBOX_SIZE = 4096;
    public static final int MAILBOX_MAGIC = 0x4d48534b; // "KSHM"
    public static final int MAX_REQUESTS = 127;
    public static final int OFF_MAGIC = 0, OFF_COUNT = 4, OFF_COMPLETED = 8, OFF_ERROR = 12, OFF_REQUESTS = 16;
    public static final int REQUEST_SIZE = 32;
    public static final int REQ_OP = 0, REQ_STATUS = 4, REQ_A0 = 8, REQ_A1 = 16, REQ_A2 = 24;

    public static final int OP_ALLOC = 1, OP_FREE = 2, OP_SEND = 3, OP_RECV = 4, OP_POLL = 5, OP_WAIT = 6,
            OP_REPORT = 7, OP_YIELD = 8;

    public static final int OK = 0, BAD_OP = 1, BAD_SIZE = 2, NO_SPACE = 3, BAD_ADDRESS = 4, NOT_OWNER = 5,
            BAD_LENGTH = 6, NO_SUCH_VM = 7, EMPTY = 8, NO_MORE_SENDERS = 9, BAD_MAILBOX = 10, QUOTA = 11;

    private static final String[] STATUS_NAMES = {"OK", "BAD_OP", "BAD_SIZE", "NO_SPACE", "BAD_ADDRESS", "NOT_OWNER",
        "BAD_LENGTH", "NO_SUCH_VM", "EMPTY", "NO_MORE_SENDERS", "BAD_MAILBOX", "QUOTA"};
    private static final String[] OP_NAMES = {"?", "ALLOC", "FREE", "SEND", "RECV", "POLL", "WAIT", "REPORT", "YIELD"};

    public static String statusName(int status) {
        return status >= 0 && status < STATUS_NAMES.length ? STATUS_NAMES[status] : "status " + status;
    }

    public static String opName(int op) {
        return op > 0 && op < OP_NAMES.length ? OP_NAMES[op] : "op " + op;
    }

    /** Number of distinct status codes, for counters. */
    static final int STATUSES = STATUS_NAMES.length;
}
