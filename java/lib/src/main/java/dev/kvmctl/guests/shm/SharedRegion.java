package dev.kvmctl.guests.shm;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.memory.BlockAllocator;

/**
 * One memfd-backed region that several VMs map at the same guest-physical address, with the
 * {@link BlockAllocator} that hands out its blocks: the memory the {@link SharedMemoryHub} serves.
 * Each VM maps {@link #memory()} at {@link #guestAddress()} (a {@code GuestConfig} does it with
 * {@code share(region.memory(), region.guestAddress())}).
 *
 * <pre>{@code
 * try (SharedRegion shared = SharedRegion.create("demo", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS)) {
 *     vmA.mapMemory(shared.guestAddress(), shared.memory());
 *     vmB.mapMemory(shared.guestAddress(), shared.memory());   // both see the same bytes at 4 GiB
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

    public GuestMemory memory() {
        return memory;
    }

    public BlockAllocator allocator() {
        return allocator;
    }

    public long guestAddress() {
        return guestAddress;
    }

    public long size() {
        return memory.size();
    }

    /** Whether guest-physical {@code gpa} lies inside the region. */
    public boolean contains(long gpa) {
        return gpa >= guestAddress && gpa - guestAddress < memory.size();
    }

    /** Closes the memory; refused while a VM still maps it. */
    @Override
    public void close() {
        memory.close();
    }
}
