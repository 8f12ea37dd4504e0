package dev.kvmctl.guests.shm;

import dev.kvmctl.EventFd;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.CallDevice;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.memory.AllocationResult;
import dev.kvmctl.memory.AllocatorStats;
import dev.kvmctl.memory.BlockAllocator;
import dev.kvmctl.memory.BlockResult;
import dev.kvmctl.GuestMemory;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The host side of {@code docs/shared-memory-abi.md}: VMs attached to one {@link SharedRegion}
 * ask it for blocks, hand them to each other and free them through mailbox calls on port 0x510;
 * their doorbells are ioeventfds, so a guest wakes a peer without an exit to user space.
 *
 * <p>Every request is validated; a bad one gets a status code and changes nothing. When a VM
 * ends, whatever it owns (its blocks and its inbox) goes back to the allocator and its peers are
 * woken.
 *
 * <pre>{@code
 * try (SharedRegion region = SharedRegion.create("demo", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
 *      SharedMemoryHub hub = new SharedMemoryHub(region)) {
 *     Machine producer = Machine.boot(kvm, producerConfig);   // configs share region.memory()
 *     Machine consumer = Machine.boot(kvm, consumerConfig);
 *     hub.connect(List.of(producer, consumer));
 *     // run each machine on its own thread
 * }
 * }</pre>
 */
public final class SharedMemoryHub implements CallDevice, AutoCloseable {
    private final SharedRegion region;
    private final BlockAllocator allocator;
    private final List<Endpoint> endpoints = new ArrayList<>();
    private final Map<Machine, Endpoint> byMachine = new java.util.IdentityHashMap<>();

    public SharedMemoryHub(SharedRegion region) {
        this.region = region;
        this.allocator = region.allocator();
    }

    /** The region this hub manages. */
    public SharedRegion region() {
        return region;
    }

    /**
     * Joins the machines, in order: VM i is the i-th. Each gets the call port, and an ioeventfd
     * for every other VM's doorbell (kept across VM rebuilds).
     */
    public synchronized void connect(List<Machine> machines) {
        if (!endpoints.isEmpty()) {
            throw new IllegalStateException("already connected");
        }
        if (machines.size() > ShmAbi.MAX_VMS) {
            throw new IllegalArgumentException("at most " + ShmAbi.MAX_VMS + " VMs can share a region");
        }
        for (int i = 0; i < machines.size(); i++) {
            Endpoint e = new Endpoint(i, machines.get(i), EventFd.create(true));
            endpoints.add(e);
            byMachine.put(e.machine, e);
        }
        for (Endpoint e : endpoints) {
            e.machine.setCallDevice(ShmAbi.CALL_PORT, this);
            e.machine.onVmCreated(vm -> wireDoorbells(vm, e));
        }
    }

    private void wireDoorbells(Vm vm, Endpoint self) {
        for (Endpoint peer : endpoints) {
            if (peer != self) {
                vm.registerIoEvent(peer.doorbell, Vm.IoSpace.PIO, ShmAbi.DOORBELL_BASE + peer.index, 1);
            }
        }
    }

    // ---- CallDevice ----

    @Override
    public Progress call(Machine machine, int value) {
        Endpoint e = endpoint(machine);
        e.calls++;
        long mailbox = Integer.toUnsignedLong(value);
        GuestMemory ram = machine.ram();
        if (mailbox % ShmAbi.MAILBOX_SIZE != 0 || mailbox < GuestMemory.PAGE_SIZE || mailbox > ram.size() - ShmAbi.MAILBOX_SIZE) {
            e.badMailboxAddresses++;
            return Progress.DONE; // nowhere to answer: 'completed' stays as the guest left it
        }
        int magic = ram.getInt(mailbox + ShmAbi.OFF_MAGIC);
        int count = ram.getInt(mailbox + ShmAbi.OFF_COUNT);
        if (magic != ShmAbi.MAILBOX_MAGIC || count < 1 || count > ShmAbi.MAX_REQUESTS) {
            ram.putInt(mailbox + ShmAbi.OFF_COMPLETED, 0);
            ram.putInt(mailbox + ShmAbi.OFF_ERROR, ShmAbi.BAD_MAILBOX);
            e.statusCounts[ShmAbi.BAD_MAILBOX]++;
            return Progress.DONE;
        }
        ram.putInt(mailbox + ShmAbi.OFF_ERROR, ShmAbi.OK);
        e.mailbox = mailbox;
        e.count = count;
        e.next = 0;
        return process(e);
    }

    @Override
    public Progress resume(Machine machine) {
        return process(endpoint(machine));
    }

    @Override
    public boolean ready(Machine machine) {
        Endpoint e = endpoint(machine);
        drainDoorbell(e);
        synchronized (this) {
            return switch (e.waitingFor) {
                case ShmAbi.OP_RECV -> !e.inbox.isEmpty() || !anotherSenderLives(e);
                case ShmAbi.OP_WAIT -> e.rung || !anotherSenderLives(e);
                default -> true;
            };
        }
    }

    @Override
    public void await(Machine machine) {
        Endpoint e = endpoint(machine);
        // Returns on a doorbell (rung by a peer inside the kernel), an ending peer, or wake().
        EventFd.awaitAny(List.of(e.doorbell), -1);
        drainDoorbell(e);
    }

    @Override
    public void awaitAny(List<Machine> blocked, int timeoutMillis) {
        List<EventFd> doorbells = new ArrayList<>();
        for (Machine m : blocked) {
            doorbells.add(endpoint(m).doorbell);
        }
        EventFd.awaitAny(doorbells, timeoutMillis);
    }

    /** A rung doorbell counts once for WAIT, however many rings it holds. */
    private void drainDoorbell(Endpoint e) {
        if (e.doorbell.read() > 0) {
            synchronized (this) {
                e.rung = true;
            }
        }
    }

    @Override
    public void wake(Machine machine) {
        Endpoint e = byMachineOrNull(machine);
        if (e != null) {
            e.doorbell.signal();
        }
    }

    @Override
    public void ended(Machine machine) {
        List<Endpoint> toWake = new ArrayList<>();
        synchronized (this) {
            Endpoint e = byMachine.get(machine);
            if (e == null || e.ended) {
                return;
            }
            e.ended = true;
            e.inbox.clear(); // queued blocks already belong to e: freeAll gives them back
            BlockAllocator.Reclaimed r = allocator.freeAll(e.index);
            e.reclaimedBlocks = r.blocks();
            e.reclaimedBytes = r.bytes();
            for (Endpoint peer : endpoints) {
                if (!peer.ended) {
                    toWake.add(peer);
                }
            }
        }
        for (Endpoint peer : toWake) {
            peer.doorbell.signal();
        }
    }

    // ---- processing ----

    private Progress process(Endpoint e) {
        GuestMemory ram = e.machine.ram();
        while (e.next < e.count) {
            long at = e.mailbox + ShmAbi.OFF_REQUESTS + (long) e.next * ShmAbi.REQUEST_SIZE;
            int op = ram.getInt(at + ShmAbi.REQ_OP);
            long a0 = ram.getLong(at + ShmAbi.REQ_A0);
            long a1 = ram.getLong(at + ShmAbi.REQ_A1);
            long a2 = ram.getLong(at + ShmAbi.REQ_A2);
            long[] out = e.out;
            out[0] = a0;
            out[1] = a1;
            out[2] = a2;
            int status = execute(e, op, a0, a1, a2, out);
            if (status < 0) {
                e.waitingFor = op;
                return Progress.BLOCKED;
            }
            e.waitingFor = 0;
            ram.putInt(at + ShmAbi.REQ_STATUS, status);
            ram.putLong(at + ShmAbi.REQ_A0, out[0]);
            ram.putLong(at + ShmAbi.REQ_A1, out[1]);
            ram.putLong(at + ShmAbi.REQ_A2, out[2]);
            e.requests++;
            e.opCounts[Math.max(0, Math.min(op, e.opCounts.length - 1))]++;
            e.statusCounts[status]++;
            e.next++;
        }
        ram.putInt(e.mailbox + ShmAbi.OFF_COMPLETED, e.count);
        if (e.yieldRequested) {
            e.yieldRequested = false;
            return Progress.YIELD;
        }
        return Progress.DONE;
    }

    /** Runs one request; returns its status, or -1 if it must wait. */
    private synchronized int execute(Endpoint e, int op, long a0, long a1, long a2, long[] out) {
        switch (op) {
            case ShmAbi.OP_ALLOC: {
                AllocationResult r = allocator.allocate(e.index, a0);
                if (r instanceof AllocationResult.Allocated a) {
                    out[1] = region.guestAddress() + a.offset();
                    out[2] = a.size();
                    e.allocations++;
                    return ShmAbi.OK;
                }
                AllocationResult.Refused no = (AllocationResult.Refused) r;
                out[2] = no.largestIdle();
                return no.reason() == AllocationResult.Reason.NO_IDLE_BLOCK_LARGE_ENOUGH ? ShmAbi.NO_SPACE : ShmAbi.BAD_SIZE;
            }
            case ShmAbi.OP_FREE: {
                if (!region.contains(a0)) {
                    return ShmAbi.BAD_ADDRESS;
                }
                return blockStatus(allocator.free(e.index, a0 - region.guestAddress()));
            }
            case ShmAbi.OP_SEND:
                return send(e, a0, a1, a2);
            case ShmAbi.OP_RECV:
            case ShmAbi.OP_POLL: {
                Message m = e.inbox.poll();
                if (m != null) {
                    out[0] = region.guestAddress() + m.offset();
                    out[1] = m.length();
                    out[2] = m.sender();
                    e.received++;
                    return ShmAbi.OK;
                }
                if (!anotherSenderLives(e)) {
                    return ShmAbi.NO_MORE_SENDERS;
                }
                return op == ShmAbi.OP_POLL ? ShmAbi.EMPTY : -1;
            }
            case ShmAbi.OP_WAIT: {
                if (e.rung) {
                    e.rung = false;
                    return ShmAbi.OK;
                }
                return anotherSenderLives(e) ? -1 : ShmAbi.NO_MORE_SENDERS;
            }
            case ShmAbi.OP_REPORT:
                e.reportedMessages = a0;
                e.reportedBytes = a1;
                e.reportedErrors = a2;
                e.reported = true;
                return ShmAbi.OK;
            case ShmAbi.OP_YIELD:
                e.yields++;
                e.yieldRequested = true;
                return ShmAbi.OK;
            default:
                return ShmAbi.BAD_OP;
        }
    }

    private int send(Endpoint e, long gpa, long length, long dest) {
        if (!region.contains(gpa)) {
            return ShmAbi.BAD_ADDRESS;
        }
        if (dest < 0 || dest >= endpoints.size() || dest == e.index || endpoints.get((int) dest).ended) {
            return ShmAbi.NO_SUCH_VM;
        }
        Endpoint to = endpoints.get((int) dest);
        long offset = gpa - region.guestAddress();
        BlockResult moved = allocator.transfer(e.index, offset, to.index);
        if (!(moved instanceof BlockResult.Done done)) {
            return blockStatus(moved);
        }
        if (length <= 0 || length > done.size()) {
            allocator.transfer(to.index, offset, e.index); // undo: the block stays the sender's
            return ShmAbi.BAD_LENGTH;
        }
        to.inbox.add(new Message(offset, length, e.index));
        e.sent++;
        e.sentBytes += length;
        return ShmAbi.OK;
    }

    private static int blockStatus(BlockResult r) {
        if (r instanceof BlockResult.Done) {
            return ShmAbi.OK;
        }
        return switch (((BlockResult.Refused) r).reason()) {
            case NOT_A_BLOCK_START -> ShmAbi.BAD_ADDRESS;
            default -> ShmAbi.NOT_OWNER;
        };
    }

    private boolean anotherSenderLives(Endpoint e) {
        for (Endpoint peer : endpoints) {
            if (peer != e && !peer.ended) {
                return true;
            }
        }
        return false;
    }

    private Endpoint endpoint(Machine machine) {
        Endpoint e = byMachineOrNull(machine);
        if (e == null) {
            throw new IllegalStateException(machine.name() + " is not connected to this shared-memory hub");
        }
        return e;
    }

    private synchronized Endpoint byMachineOrNull(Machine machine) {
        return byMachine.get(machine);
    }

    // ---- reporting ----

    /** What one VM did through the hub. */
    public record VmStats(int index, String name, long calls, long requests, long allocations, long sent, long sentBytes,
                          long received, long yields, Map<String, Long> statuses, long badMailboxAddresses,
                          boolean reported, long reportedMessages, long reportedBytes, long reportedErrors,
                          long reclaimedBlocks, long reclaimedBytes) {
        /** Requests refused for a reason other than flow control (NO_SPACE, EMPTY, NO_MORE_SENDERS). */
        public long refusals() {
            long n = badMailboxAddresses;
            for (Map.Entry<String, Long> s : statuses.entrySet()) {
                switch (s.getKey()) {
                    case "OK", "NO_SPACE", "EMPTY", "NO_MORE_SENDERS" -> { }
                    default -> n += s.getValue();
                }
            }
            return n;
        }
    }

    public synchronized List<VmStats> stats() {
        List<VmStats> out = new ArrayList<>();
        for (Endpoint e : endpoints) {
            Map<String, Long> statuses = new TreeMap<>();
            for (int s = 0; s < e.statusCounts.length; s++) {
                if (e.statusCounts[s] > 0) {
                    statuses.put(ShmAbi.statusName(s), e.statusCounts[s]);
                }
            }
            out.add(new VmStats(e.index, e.machine.name(), e.calls, e.requests, e.allocations, e.sent, e.sentBytes,
                    e.received, e.yields, statuses, e.badMailboxAddresses, e.reported, e.reportedMessages,
                    e.reportedBytes, e.reportedErrors, e.reclaimedBlocks, e.reclaimedBytes));
        }
        return out;
    }

    public AllocatorStats allocatorStats() {
        return allocator.stats();
    }

    @Override
    public synchronized void close() {
        for (Endpoint e : endpoints) {
            e.doorbell.close();
        }
    }

    /** One VM's side of the hub. Fields are guarded by the hub's lock except where the VM's own thread owns them. */
    private static final class Endpoint {
        final int index;
        final Machine machine;
        final EventFd doorbell;
        final ArrayDeque<Message> inbox = new ArrayDeque<>();
        final long[] out = new long[3];
        final long[] opCounts = new long[ShmAbi.OP_YIELD + 2];
        final long[] statusCounts = new long[ShmAbi.STATUSES];
        boolean ended;
        boolean rung;
        boolean yieldRequested;
        int waitingFor;
        // the call in progress (owned by the VM's thread)
        long mailbox;
        int count;
        int next;
        // counters
        long calls, requests, allocations, sent, sentBytes, received, yields, badMailboxAddresses;
        boolean reported;
        long reportedMessages, reportedBytes, reportedErrors, reclaimedBlocks, reclaimedBytes;

        Endpoint(int index, Machine machine, EventFd doorbell) {
            this.index = index;
            this.machine = machine;
            this.doorbell = doorbell;
        }
    }
}
