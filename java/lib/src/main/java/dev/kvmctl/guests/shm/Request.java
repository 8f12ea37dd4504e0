package dev.kvmctl.guests.shm;

/**
 * One request of a mailbox on its way through the hub: what the guest asked ({@code op}, and
 * {@code a0..a2} in) and, once the rules have run it, the answer ({@code status}, {@code a0..a2}
 * out). One per VM is reused for every request, so the hot path allocates nothing.
 */
final class Request {
    int op;
    int status;
    long a0;
    long a1;
    long a2;

    /** A request as a guest would write it; for tests. */
    static Request of(int op, long a0, long a1, long a2) {
        Request r = new Request();
        r.op = op;
        r.a0 = a0;
        r.a1 = a1;
        r.a2 = a2;
        return r;
    }

    @Override
    public String toString() {
        return ShmAbi.opName(op) + "(" + a0 + ", " + a1 + ", " + a2 + ") -> " + ShmAbi.statusName(status);
    }
}
