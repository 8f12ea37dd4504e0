package dev.kvmctl.memory;

import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vm;

/**
 * One memfd-backed region that several VMs map at the same guest-physical address, with the
 * {@link BlockAllocator} that hands out its blocks. Any number of VMs may attach.
 *
 * <p>Closing the region closes its {@link GuestMemory}, in any order with the VMs: VMs that still
 * map it keep it until they let go (see {@link GuestMemory#close()}). A closed region (or one whose
 * {@link #memory()} was closed) refuses every call with {@link IllegalStateException} except
 * {@link #close()}, {@link #isClosed()} and {@code toString()}.
 *
 * <pre>{@code
 * try (SharedRegion shared = SharedRegion.create("demo", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS)) {
 *     shared.attach(vmA);
 *     shared.attach(vmB);                              // both see the same bytes at 4 GiB
 *     AllocationResult r = shared.allocator().allocate(0, 4096);
 * }
 * }</pre>
 */
public final class SharedRegion implements AutoCloseable {
    /** Where {@code kvmctl launch} maps the shared region: 4 GiB, above any guest's RAM. */
    public static final long DEFAULT_GUEST_ADDRESS = 1L << 32;

    private final GuestMemory memory;
    private final BlockAllocator allocator;
    private final long guestAddress;

    private SharedRegion(GuestMemory memory, BlockAllocator allocator, long guestAddress) {
        this.memory = memory;
        this.allocator = allocator;
        this.guestAddress = guestAddress;
    }

    /** A new region of {@code size} bytes (a multiple of 4 KiB) to be mapped at {@code guestAddress}. */
    public static SharedRegion create(String name, long size, long guestAddress) {
        if (guestAddress % GuestMemory.PAGE_SIZE != 0 || guestAddress < 0) {
            throw new IllegalArgumentException(String.format("shared region address 0x%x is not 4 KiB aligned", guestAddress));
        }
        GuestMemory memory = GuestMemory.memfd(name, size);
        return new SharedRegion(memory, new BlockAllocator(size), guestAddress);
    }

    /** Maps the region into {@code vm} at {@link #guestAddress()}. */
    public MemorySlot attach(Vm vm) {
        ensureOpen();
        return vm.mapMemory(guestAddress, memory);
    }

    /** The memfd-backed memory. */
    public GuestMemory memory() {
        ensureOpen();
        return memory;
    }

    /** The allocator of the region's blocks. */
    public BlockAllocator allocator() {
        ensureOpen();
        return allocator;
    }

    /** Where VMs map the region. */
    public long guestAddress() {
        ensureOpen();
        return guestAddress;
    }

    /** Bytes in the region. */
    public long size() {
        return memory.size(); // refuses once closed
    }

    /** Whether guest-physical {@code gpa} lies inside the region. */
    public boolean contains(long gpa) {
        long size = memory.size(); // refuses once closed
        return gpa >= guestAddress && gpa - guestAddress < size;
    }

    private void ensureOpen() {
        if (memory.isClosed()) {
            throw new IllegalStateException("shared region (" + memory + ") is closed");
        }
    }

    /** Whether {@link #close()} was called (or the memory closed directly). */
    public boolean isClosed() {
        return memory.isClosed();
    }

    /**
     * Closes the memory; idempotent. VMs that still map it keep it until their slot is removed or
     * they are closed (see {@link GuestMemory#close()}).
     */
    @Override
    public void close() {
        memory.close();
    }

    @Override
    public String toString() {
        return String.format("SharedRegion[0x%x, %s]", guestAddress, memory);
    }
}
