package dev.kvmctl.guests.shm;

import dev.kvmctl.EventFd;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.CallDevice;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.memory.AllocationResult;
import dev.kvmctl.memory.AllocatorStats;
import dev.kvmctl.GuestMemory;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * The host side of {@code docs/shared-memory-abi.md}: VMs attached to one {@link SharedRegion}
 * ask it for blocks, hand them to each other and free them through mailbox calls on port 0x510;
 * their doorbells are ioeventfds, so a guest wakes a peer without an exit to user space.
 *
 * <p>Every request is validated; a bad one gets a status code and changes nothing. Each VM has
 * {@link Quotas} (blocks and bytes it may have allocated and not yet freed); an ALLOC beyond them
 * gets {@code QUOTA}. When a VM ends, whatever it owns (its blocks and its inbox) goes back to the
 * allocator and its peers are woken. The hub is glue: {@link MailboxCodec} reads and answers the
 * mailbox, {@link HubRules} decides every request, and the hub wires doorbells and machines.
 * The hub also serves the ring area of the exit-free message path ({@link #enableRings}, RINGS)
 * and the host's own peer on it ({@link #openEndpoint}).
 *
 * <pre>{@code
 * try (SharedRegion region = SharedRegion.create("demo", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
 *      SharedMemoryHub hub = new SharedMemoryHub(region);
 *      Machine producer = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("producer")).ring(3)
 *              .share(region.memory(), region.guestAddress()).vmIndex(0, 2).build());
 *      Machine consumer = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("consumer")).ring(3)
 *              .share(region.memory(), region.guestAddress()).vmIndex(1, 2).build())) {
 *     hub.connect(List.of(producer, consumer));
 *     List<RunResult> results = ThreadedRunner.runAll(List.of(producer, consumer), Duration.ofSeconds(30));
 *     System.out.println(hub.stats());
 * }
 * }</pre>
 *
 * <p>The region outlives the hub, and the hub its machines: created in that order in one
 * try-with-resources, they close in the reverse one.
 */
public final class SharedMemoryHub implements CallDevice, AutoCloseable {
    private final SharedRegion region;
    private final Quotas quotas;
    private final List<Endpoint> endpoints = new ArrayList<>();
    private final Map<Machine, Endpoint> byMachine = new IdentityHashMap<>();
    /** Set once by connect, before any machine of this hub runs. */
    private volatile HubRules rules;
    private boolean closed;
    /** The host endpoint's doorbell (port 0x520 + VM count), when the VMs leave room for it; set by connect. */
    private EventFd hostDoorbell;
    /** The ring area's offset in the region, or -1 before {@link #enableRings}. */
    private long ringArea = -1;
    private ShmEndpoint hostEndpoint;

    /**
     * A hub for {@code region} with the default {@link Quotas}.
     *
     * @param region the region its VMs share; stays the caller's to close, after the hub
     */
    public SharedMemoryHub(SharedRegion region) {
        this(region, Quotas.defaults());
    }

    /**
     * A hub for {@code region} whose VMs each get {@code quotas}.
     *
     * @param region the region its VMs share; stays the caller's to close, after the hub
     * @param quotas per-VM limits; 0 in a field stands for its default, resolved at {@link #connect}
     */
    public SharedMemoryHub(SharedRegion region, Quotas quotas) {
        this.region = java.util.Objects.requireNonNull(region, "region");
        this.quotas = java.util.Objects.requireNonNull(quotas, "quotas");
    }

    /** {@return the region this hub manages} */
    public SharedRegion region() {
        return region;
    }

    /**
     * {@return the quotas in force: before {@link #connect}, as given (0 for a default); after
     * it, with the defaults filled in for its number of VMs}
     */
    public synchronized Quotas quotas() {
        return rules != null ? rules.quotas() : quotas;
    }

    /**
     * Joins the machines, in order: VM i is the i-th. Each gets the call port, and an ioeventfd
     * for every other VM's doorbell (kept across VM rebuilds). Once only, before any of them runs.
     *
     * @param machines 1 to {@link ShmAbi#MAX_VMS} machines whose configurations share the region
     *     at its {@link SharedRegion#guestAddress()}; their index in the list is their VM number
     * @throws IllegalStateException if the hub is already connected or closed
     * @throws IllegalArgumentException for no machines, or more than {@link ShmAbi#MAX_VMS}
     */
    public synchronized void connect(List<Machine> machines) {
        if (rules != null) {
            throw new IllegalStateException("already connected");
        }
        if (closed) {
            throw new IllegalStateException("this shared-memory hub is closed");
        }
        if (machines.isEmpty() || machines.size() > ShmAbi.MAX_VMS) {
            throw new IllegalArgumentException("1 to " + ShmAbi.MAX_VMS + " VMs can share a region, not " + machines.size());
        }
        HubRules r = new HubRules(region.allocator(), region.guestAddress(), machines.size(), quotas);
        List<Endpoint> joined = new ArrayList<>();
        try {
            for (int i = 0; i < machines.size(); i++) {
                joined.add(new Endpoint(i, machines.get(i), EventFd.create(true)));
            }
            if (machines.size() < ShmAbi.MAX_VMS) {
                hostDoorbell = EventFd.create(true);
            }
        } catch (RuntimeException ex) {
            joined.forEach(e -> e.doorbell.close());
            throw ex;
        }
        for (Endpoint e : joined) {
            endpoints.add(e);
            byMachine.put(e.machine, e);
        }
        rules = r;
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
        if (hostDoorbell != null) {
            vm.registerIoEvent(hostDoorbell, Vm.IoSpace.PIO, ShmAbi.DOORBELL_BASE + endpoints.size(), 1);
        }
    }

    // ---- rings ----

    /**
     * Serves the rings of {@code docs/shared-memory-abi.md} from now on: takes a block for the
     * ring area (one ring per direction for every pair of the VMs and the host endpoint), zeroes
     * it and answers RINGS with it. The first RINGS a guest makes does the same by itself (and
     * gets {@code BAD_OP} if the area does not fit); calling this after {@link #connect}, before the
     * guests run, sets the area up early and says so if it does not fit. Once is enough (later
     * calls do nothing). The area is the hub's, never any VM's: no VM can free or send it.
     *
     * @throws IllegalStateException if the hub is not connected or closed, or the region has no
     *     idle block for the ring area (the message gives its size)
     */
    public synchronized void enableRings() {
        if (rules == null || closed) {
            throw new IllegalStateException(closed ? "this shared-memory hub is closed" : "connect the machines first");
        }
        AllocationResult r = setUpRings();
        if (r instanceof AllocationResult.Refused) {
            throw new IllegalStateException("the shared region has no idle block of " + ringAreaBytes() + " bytes for the rings of "
                    + (endpoints.size() + 1) + " peers: " + r + "; enable rings before the guests allocate, or use a larger region");
        }
    }

    private long ringAreaBytes() {
        long peers = endpoints.size() + 1L;
        return peers * peers * ShmAbi.RING_BYTES;
    }

    /** Allocates and zeroes the ring area unless it exists; null when it already did, else the allocation. */
    private synchronized AllocationResult setUpRings() {
        if (ringArea >= 0 || closed) {
            return null;
        }
        long bytes = ringAreaBytes();
        AllocationResult r = region.allocator().allocate(ShmEndpoint.RING_OWNER, bytes);
        if (r instanceof AllocationResult.Allocated a) {
            region.memory().fill(a.offset(), bytes, (byte) 0);
            ringArea = a.offset();
            rules.serveRings(ringArea);
        }
        return r;
    }

    /**
     * Opens the host's endpoint on the rings (enabling them if needed): Java becomes peer
     * <i>VM count</i>, which guests reach through their rings to it and its doorbell. One at a
     * time; while it is open, guests waiting in WAIT or RECV count it as a peer that may still send.
     *
     * @return the endpoint, which the caller closes before the hub
     * @throws IllegalStateException if the hub is not connected or closed, an endpoint is open, the
     *     hub has {@link ShmAbi#MAX_VMS} VMs (no doorbell left for the host), or the ring area does not fit
     */
    public synchronized ShmEndpoint openEndpoint() {
        enableRings();
        if (hostDoorbell == null) {
            throw new IllegalStateException("with " + ShmAbi.MAX_VMS + " VMs no doorbell is left for the host's endpoint; "
                    + "connect at most " + (ShmAbi.MAX_VMS - 1) + " VMs");
        }
        if (hostEndpoint != null) {
            throw new IllegalStateException("an endpoint is already open on this hub: close it first");
        }
        hostEndpoint = new ShmEndpoint(this, region, ringArea, endpoints.size());
        rules.hostPeer(true);
        return hostEndpoint;
    }

    /** The endpoint closed: it no longer counts as a peer, and waiting VMs look again. */
    synchronized void endpointClosed() {
        hostEndpoint = null;
        rules.hostPeer(false);
        for (Endpoint e : endpoints) {
            signal(e);
        }
    }

    /** Rings VM {@code vm}'s doorbell, for the host endpoint. */
    void wakeVm(int vm) {
        signal(endpoints.get(vm));
    }

    /** Whether VM {@code vm} has ended. */
    boolean vmEnded(int vm) {
        return rules.ended(vm);
    }

    /** Waits up to {@code timeoutMillis} for the host's doorbell; true if it rang (drained). */
    boolean awaitHostDoorbell(int timeoutMillis) {
        EventFd bell;
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("this shared-memory hub is closed: close the endpoint before the hub");
            }
            bell = hostDoorbell;
        }
        boolean rang = EventFd.awaitAny(List.of(bell), timeoutMillis);
        synchronized (this) {
            if (!closed) {
                bell.read();
            }
        }
        return rang;
    }

    // ---- CallDevice ----

    @Override
    public Progress call(Machine machine, int value) {
        Endpoint e = endpoint(machine);
        GuestMemory ram = machine.ram();
        long mailbox = MailboxCodec.locate(value, ram.size());
        if (mailbox == MailboxCodec.NO_MAILBOX) {
            rules.badMailboxAddress(e.index);
            return Progress.DONE; // nowhere to answer: 'completed' stays as the guest left it
        }
        int count = MailboxCodec.open(ram, mailbox);
        rules.call(e.index, count < 0);
        if (count < 0) {
            return Progress.DONE;
        }
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
        return rules.ready(e.index);
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
            rules.rang(e.index);
        }
    }

    @Override
    public void wake(Machine machine) {
        Endpoint e = byMachineOrNull(machine);
        if (e != null) {
            signal(e);
        }
    }

    @Override
    public void ended(Machine machine) {
        Endpoint e = byMachineOrNull(machine);
        if (e == null || !rules.end(e.index)) {
            return;
        }
        for (Endpoint peer : endpoints) {
            if (peer != e && !rules.ended(peer.index)) {
                signal(peer);
            }
        }
        synchronized (this) {
            if (hostDoorbell != null && !closed) {
                hostDoorbell.signal();
            }
        }
    }

    private synchronized void signal(Endpoint e) {
        if (!closed) { // a machine may end (close) after the hub: its doorbells are gone
            e.doorbell.signal();
        }
    }

    // ---- processing ----

    private Progress process(Endpoint e) {
        GuestMemory ram = e.machine.ram();
        Request r = e.request;
        while (e.next < e.count) {
            MailboxCodec.read(ram, e.mailbox, e.next, r);
            if (r.op == ShmAbi.OP_RINGS && !rules.servesRings()) {
                setUpRings(); // the first RINGS sets the area up; if it does not fit, RINGS stays BAD_OP
            }
            if (rules.execute(e.index, r) == HubRules.WAIT) {
                return Progress.BLOCKED;
            }
            MailboxCodec.write(ram, e.mailbox, e.next, r);
            e.next++;
        }
        MailboxCodec.complete(ram, e.mailbox, e.count);
        return rules.takeYield(e.index) ? Progress.YIELD : Progress.DONE;
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

    /**
     * What one VM did through the hub.
     *
     * @param index the VM's number, its place in {@link #connect}'s list
     * @param name its machine's name
     * @param calls calls through the call port: exits, each carrying a batch of requests
     * @param requests requests completed (a waiting one counts when it completes)
     * @param allocations successful ALLOCs
     * @param sent successful SENDs
     * @param sentBytes the bytes those SENDs announced
     * @param received messages taken from its inbox by RECV or POLL
     * @param yields YIELD requests
     * @param statuses how many requests ended with each status, by name ({@link ShmAbi#statusName}),
     *     sorted by name, statuses that never occurred left out
     * @param badMailboxAddresses calls whose mailbox address was unusable (nothing could be answered)
     * @param reported whether the guest sent a REPORT
     * @param reportedMessages the last REPORT's a0: messages the guest verified
     * @param reportedBytes the last REPORT's a1: payload bytes the guest verified
     * @param reportedErrors the last REPORT's a2: errors the guest found
     * @param reclaimedBlocks blocks taken back from it when it ended (0 while it runs)
     * @param reclaimedBytes the bytes of those blocks
     * @param peakChargedBlocks the most blocks it had allocated and not yet freed at any time (what its quota bounds)
     * @param peakChargedBytes the most bytes likewise
     */
    public record VmStats(int index, String name, long calls, long requests, long allocations, long sent, long sentBytes,
                          long received, long yields, Map<String, Long> statuses, long badMailboxAddresses,
                          boolean reported, long reportedMessages, long reportedBytes, long reportedErrors,
                          long reclaimedBlocks, long reclaimedBytes, long peakChargedBlocks, long peakChargedBytes) {
        /**
         * {@return requests refused for a reason other than flow control (NO_SPACE, QUOTA, EMPTY,
         * NO_MORE_SENDERS), plus unusable mailbox addresses: 0 for a guest that kept the ABI}
         */
        public long refusals() {
            long n = badMailboxAddresses;
            for (Map.Entry<String, Long> s : statuses.entrySet()) {
                switch (s.getKey()) {
                    case "OK", "NO_SPACE", "QUOTA", "EMPTY", "NO_MORE_SENDERS" -> { }
                    default -> n += s.getValue();
                }
            }
            return n;
        }
    }

    /** {@return each connected VM's statistics now, in VM order; empty before {@link #connect}} */
    public synchronized List<VmStats> stats() {
        List<VmStats> out = new ArrayList<>();
        for (Endpoint e : endpoints) {
            out.add(rules.stats(e.index, e.machine.name()));
        }
        return out;
    }

    /** {@return a consistent snapshot of the region's allocator: blocks and bytes in use, by VM} */
    public AllocatorStats allocatorStats() {
        return region.allocator().stats();
    }

    /** Closes the doorbells. Close the machines first (or let them end): the region stays the caller's. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Endpoint e : endpoints) {
            e.doorbell.close();
        }
        if (hostDoorbell != null) {
            hostDoorbell.close();
        }
    }

    /** One VM's side of the hub: its machine, its doorbell, and the call in progress (owned by the VM's thread). */
    private static final class Endpoint {
        final int index;
        final Machine machine;
        final EventFd doorbell;
        final Request request = new Request();
        long mailbox;
        int count;
        int next;

        Endpoint(int index, Machine machine, EventFd doorbell) {
            this.index = index;
            this.machine = machine;
            this.doorbell = doorbell;
        }
    }
}
