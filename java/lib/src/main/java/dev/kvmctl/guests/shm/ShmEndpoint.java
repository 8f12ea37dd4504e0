package dev.kvmctl.guests.shm;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.memory.AllocationResult;
import dev.kvmctl.memory.BlockAllocator;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;

/**
 * The host's own peer on the shared region's rings ({@code docs/shared-memory-abi.md}, "Rings"):
 * Java sends messages to guests and receives theirs through the same single-producer/
 * single-consumer rings the guests use among themselves, without a copy: {@link #claim} gives a
 * view of the block the message is written into, {@link #receive} a view of the block a guest
 * wrote. Guests see the host as peer {@link #index()} (the VM count): their rings to and from it,
 * and its doorbell, port {@code 0x520 + index()}.
 *
 * <pre>{@code
 * // ring-peer.elf exchanging one 64-byte message each way with peer 1: the host (arg2 = peer + 1 | both << 16)
 * try (SharedRegion region = SharedRegion.create("rings", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
 *      SharedMemoryHub hub = new SharedMemoryHub(region);
 *      Machine guest = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("ring-peer.elf")).ring(3)
 *              .args(1, 64, 2 | 3 << 16, 0).share(region.memory(), region.guestAddress()).vmIndex(0, 1).build())) {
 *     hub.connect(List.of(guest));
 *     try (ShmEndpoint host = hub.openEndpoint()) {         // before the guest runs
 *         Thread runner = new Thread(() -> ThreadedRunner.runAll(List.of(guest), Duration.ofMinutes(1)));
 *         runner.start();
 *         java.nio.ByteBuffer out;
 *         while ((out = host.claim(0, 64)) == null) {       // null: the ring to VM 0 is full
 *             host.await(Duration.ofSeconds(1));
 *         }
 *         for (int i = 8; i < 64; i++) {
 *             out.put(i, (byte) ((int) (i * 2654435761L) >>> 24));   // in place: this is the block itself
 *         }
 *         out.putLong(0, 0);                                 // message number 0
 *         host.send(0);
 *         java.nio.ByteBuffer in;
 *         while ((in = host.receive(0)) == null) {          // null: nothing from VM 0 yet
 *             host.await(Duration.ofSeconds(1));
 *         }
 *         long number = in.getLong(0);                       // read in place, no copy
 *         host.release(0);                                   // the block goes back to VM 0
 *         runner.join();
 *     }
 * }
 * }</pre>
 *
 * <p>One thread at a time uses an endpoint (like a guest, it is the single producer and single
 * consumer of its rings). Its blocks come from the region's allocator under an owner of its own,
 * outside every VM's quota, one per ring entry and reused; {@link #close} frees them. A guest that
 * breaks a ring (an impossible index or entry) makes the calls for that VM throw
 * {@link IllegalStateException} saying so; the endpoint never reads outside the region and no call
 * loops on what a guest wrote.
 */
public final class ShmEndpoint implements AutoCloseable {
    /** Allocator owner of the ring area. */
    static final int RING_OWNER = ShmAbi.MAX_VMS;
    /** Allocator owner of the endpoint's message blocks. */
    static final int HOST_OWNER = ShmAbi.MAX_VMS + 1;

    private final SharedMemoryHub hub;
    private final GuestMemory memory;
    private final BlockAllocator allocator;
    private final int vms;
    private final RingProducer[] out;
    private final RingConsumer[] in;
    /** Per VM, per ring slot: the block offset and size used for the entry at that slot, -1 when none. */
    private final long[][] slotOffset;
    private final long[][] slotSize;
    /** Per VM: the length of the claimed, unsent message (0: none); messages received, not released. */
    private final int[] claimed;
    private final int[] held;
    private final long[] entry = new long[2];
    /** What {@link #await} saw on each ring before raising its flags. */
    private final int[] seenIn;
    private final int[] seenOut;
    private boolean closed;

    ShmEndpoint(SharedMemoryHub hub, SharedRegion region, long ringArea, int vms) {
        this.hub = hub;
        this.memory = region.memory();
        this.allocator = region.allocator();
        this.vms = vms;
        int peers = vms + 1;
        ByteBuffer area = memory.slice(ringArea, peers * peers * ShmAbi.RING_BYTES).order(ByteOrder.LITTLE_ENDIAN);
        out = new RingProducer[vms];
        in = new RingConsumer[vms];
        slotOffset = new long[vms][ShmAbi.RING_ENTRIES];
        slotSize = new long[vms][ShmAbi.RING_ENTRIES];
        claimed = new int[vms];
        held = new int[vms];
        seenIn = new int[vms];
        seenOut = new int[vms];
        for (int vm = 0; vm < vms; vm++) {
            out[vm] = new RingProducer(area, ringOffset(vms, vm, peers), ShmAbi.RING_ENTRIES, "ring host→VM " + vm);
            in[vm] = new RingConsumer(area, ringOffset(vm, vms, peers), ShmAbi.RING_ENTRIES, region.size(),
                    "ring VM " + vm + "→host");
            java.util.Arrays.fill(slotOffset[vm], -1);
        }
    }

    /** The ring from peer {@code from} to peer {@code to} in the ring area. */
    static int ringOffset(int from, int to, int peers) {
        return (from * peers + to) * ShmAbi.RING_BYTES;
    }

    /** {@return the host's peer number on the rings: the number of VMs} */
    public int index() {
        return vms;
    }

    /**
     * A view of a block for the next message to VM {@code vm}: write the message into it, then
     * {@link #send}. The view stays valid until the guest releases the message.
     *
     * @param vm the destination VM
     * @param length the message's bytes, 1 up to the region's size
     * @return a little-endian buffer of capacity {@code length} over the block, position 0; or
     *     null when the ring to {@code vm} is full (every entry still unreleased): {@link #await} and try again
     * @throws IllegalArgumentException for a VM that does not exist or a bad length
     * @throws IllegalStateException if a claimed message was not sent yet, the endpoint is closed,
     *     the guest broke the ring, or the region has no idle block of {@code length} bytes
     */
    public ByteBuffer claim(int vm, int length) {
        checkVm(vm);
        if (length <= 0 || length > allocator.size()) {
            throw new IllegalArgumentException("a message is 1 to " + allocator.size() + " bytes, not " + length);
        }
        if (claimed[vm] != 0) {
            throw new IllegalStateException("a message to VM " + vm + " is claimed and not sent yet: send it first");
        }
        RingProducer p = out[vm];
        if (p.free() == 0) {
            return null;
        }
        int slot = (int) (p.head() & (ShmAbi.RING_ENTRIES - 1));
        if (slotSize[vm][slot] < length) {
            if (slotOffset[vm][slot] >= 0) {
                allocator.free(HOST_OWNER, slotOffset[vm][slot]);
                slotOffset[vm][slot] = -1;
                slotSize[vm][slot] = 0;
            }
            AllocationResult r = allocator.allocate(HOST_OWNER, length);
            if (!(r instanceof AllocationResult.Allocated a)) {
                throw new IllegalStateException("the shared region has no idle block of " + length
                        + " bytes for a message to VM " + vm + ": " + r + "; wait for guests to free blocks, or use a larger region");
            }
            slotOffset[vm][slot] = a.offset();
            slotSize[vm][slot] = a.size();
        }
        claimed[vm] = length;
        return memory.slice(slotOffset[vm][slot], length);
    }

    /**
     * Publishes the message claimed for VM {@code vm}, and rings its doorbell if it sleeps.
     *
     * @param vm the destination VM
     * @throws IllegalStateException if nothing is claimed for {@code vm}, or the endpoint is closed
     * @throws IllegalArgumentException for a VM that does not exist
     */
    public void send(int vm) {
        checkVm(vm);
        if (claimed[vm] == 0) {
            throw new IllegalStateException("nothing claimed for VM " + vm + ": claim a buffer first");
        }
        RingProducer p = out[vm];
        int slot = (int) (p.head() & (ShmAbi.RING_ENTRIES - 1));
        int length = claimed[vm];
        claimed[vm] = 0;
        if (p.put(slotOffset[vm][slot], length)) {
            hub.wakeVm(vm);
        }
    }

    /**
     * The next message from VM {@code vm} not yet received, as a read-only view of its block
     * (valid until {@link #release}d). Several may be received before releasing.
     *
     * @param vm the sending VM
     * @return a little-endian read-only buffer over the message, or null when there is none now
     * @throws IllegalArgumentException for a VM that does not exist
     * @throws IllegalStateException if the guest broke the ring, or the endpoint is closed
     */
    public ByteBuffer receive(int vm) {
        checkVm(vm);
        RingConsumer c = in[vm];
        if (c.ready() <= held[vm]) {
            return null;
        }
        c.peek(held[vm], entry);
        held[vm]++;
        return memory.slice(entry[0], (int) entry[1]).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Releases the oldest message received from VM {@code vm}: its block goes back to the guest,
     * which may overwrite it; wakes the guest if it sleeps waiting for space.
     *
     * @param vm the sending VM
     * @throws IllegalStateException if no message from {@code vm} is held, or the endpoint is closed
     * @throws IllegalArgumentException for a VM that does not exist
     */
    public void release(int vm) {
        checkVm(vm);
        if (held[vm] == 0) {
            throw new IllegalStateException("no message from VM " + vm + " is held: receive one first");
        }
        held[vm]--;
        if (in[vm].release(1)) {
            hub.wakeVm(vm);
        }
    }

    /**
     * Sleeps until a guest rings the host's doorbell (it published a message or released one while
     * this side waited), a VM ends, or the timeout passes. Returns at once when a message waits
     * to be {@link #receive}d. Says on every ring that the host sleeps first, and returns at once
     * if something changed meanwhile. Wake-ups can be spurious:
     * look with {@link #receive} or {@link #claim} again.
     *
     * @param timeout the longest wait, not negative; longer than about 24 days counts as 24 days
     * @return false on the timeout, true otherwise
     * @throws IllegalStateException if the endpoint or the hub is closed, or a guest broke a ring
     *     while this call looked at it
     * @throws IllegalArgumentException for a negative timeout
     */
    public boolean await(Duration timeout) {
        ensureOpen();
        if (timeout.isNegative()) {
            throw new IllegalArgumentException("a negative timeout: " + timeout);
        }
        int millis = timeout.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) > 0 ? Integer.MAX_VALUE : (int) timeout.toMillis();
        boolean ready = false;
        for (int vm = 0; vm < vms; vm++) {
            if (in[vm].broken() == null) {
                seenIn[vm] = in[vm].ready();
                ready |= seenIn[vm] > held[vm]; // a message not yet received: nothing to wait for
            }
            if (out[vm].broken() == null) {
                seenOut[vm] = out[vm].free();
            }
        }
        for (int vm = 0; vm < vms && !ready; vm++) {
            if (in[vm].broken() == null && in[vm].prepareSleep() != seenIn[vm]) {
                ready = true;
            }
            if (out[vm].broken() == null && out[vm].prepareSleep() != seenOut[vm]) {
                ready = true;
            }
        }
        boolean woken = ready || hub.awaitHostDoorbell(millis);
        for (int vm = 0; vm < vms; vm++) {
            in[vm].awake();
            out[vm].awake();
        }
        return woken;
    }

    /**
     * {@return whether VM {@code vm} has ended (what it published stays readable; nothing more will come)}
     *
     * @param vm a VM of the hub
     */
    public boolean ended(int vm) {
        checkVm(vm);
        return hub.vmEnded(vm);
    }

    /** Frees the endpoint's blocks and stops counting as a peer (guests waiting for it are woken). */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        allocator.freeAll(HOST_OWNER);
        hub.endpointClosed();
    }

    private void checkVm(int vm) {
        ensureOpen();
        if (vm < 0 || vm >= vms) {
            throw new IllegalArgumentException("no VM " + vm + " on this hub (VMs 0 to " + (vms - 1) + ")");
        }
    }

    private void ensureOpen() {
        if (closed) {
            throw new IllegalStateException("this endpoint is closed");
        }
    }
}
