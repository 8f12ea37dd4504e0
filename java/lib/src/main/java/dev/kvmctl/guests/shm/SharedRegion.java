package dev.kvmctl.guests.shm;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.memory.BlockAllocator;

/**
 * One memfd-backed region that several VMs map at the same guest-physical address, with the
 * {@link BlockAllocator} that hands out its blocks: the memory the {@link SharedMemoryHub} serves.
 * Each VM maps {@link #memory()} at {@link #guestAddress()} (a {@code GuestConfig} does it with
 * {@code share(region.memory(), region.guestAddress())}).
 *
 * <p>Closing the region closes its {@link GuestMemory}, in any order with the VMs: VMs that still
 * map it keep it until they let go (see {@link GuestMemory#close()}). A closed region (or one whose
 * {@link #memory()} was closed) refuses every call with {@link IllegalStateException} except
 * {@link #close()}, {@link #isClosed()} and {@code toString()}.
 *
 * <pre>{@code
 * try (SharedRegion shared = SharedRegion.create("demo", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
 *      Vm vmA = kvm.createVm();
 *      Vm vmB = kvm.createVm()) {
 *     vmA.mapMemory(shared.guestAddress(), shared.memory());
 *     vmB.mapMemory(shared.guestAddress(), shared.memory());   // both see the same bytes at 4 GiB
 *     AllocationResult r = shared.allocator().allocate(0, 4096);
 *     ...
 * }
 * }</pre>
 *
 * <p>The region is created before the VMs that map it, as the
 * {@linkplain dev.kvmctl package documentation} recommends for memory.
 */
public final class SharedRegion implements AutoCloseable {
    /** Where {@code kvmctl launch} maps the shared region: 4 GiB, above any guest's RAM. */
    public static final long DEFAULT_GUEST_ADDRESS = 1L << 32;

    /**
     * The most blocks a region's allocator ever tracks (2^18): its granule, the smallest block,
     * is 64 bytes up to 16 MiB and grows with larger regions, so guests cannot make the host's
     * bookkeeping grow past about {@code MAX_GRANULES * BlockAllocator.FOOTPRINT_PER_BLOCK} bytes
     * (44 MiB) however they allocate.
     */
    public static final long MAX_GRANULES = 1L << 18;

    private final GuestMemory memory;
    private final BlockAllocator allocator;
    private final long guestAddress;

    private SharedRegion(GuestMemory memory, BlockAllocator allocator, long guestAddress) {
        this.memory = memory;
        this.allocator = allocator;
        this.guestAddress = guestAddress;
    }

    /**
     * A new region of {@code size} bytes (a multiple of 4 KiB, and of its {@link #granule()} when
     * over 1 GiB) to be mapped at {@code guestAddress}: a zero-filled memfd and an allocator with
     * every block free.
     *
     * @param name a label for the memfd, shown in {@code /proc/<pid>/maps}
     * @param size bytes, a positive multiple of 4 KiB (and of the granule when over 1 GiB)
     * @param guestAddress where every VM maps it, a multiple of 4 KiB above the guests' RAM, such
     *     as {@link #DEFAULT_GUEST_ADDRESS}
     * @return the new region, which the caller closes after every VM that maps it
     * @throws IllegalArgumentException for an unaligned or negative address, or a size that is not
     *     a multiple of 4 KiB or of the granule (the message says which sizes fit)
     * @throws dev.kvmctl.KvmException if the memfd cannot be created or mapped
     */
    public static SharedRegion create(String name, long size, long guestAddress) {
        if (guestAddress % GuestMemory.PAGE_SIZE != 0 || guestAddress < 0) {
            throw new IllegalArgumentException(String.format("shared region address 0x%x is not 4 KiB aligned", guestAddress));
        }
        GuestMemory memory = GuestMemory.memfd(name, size); // checks the size first
        long granule = BlockAllocator.granuleFor(size, MAX_GRANULES);
        if (size % granule != 0) {
            memory.close();
            throw new IllegalArgumentException(String.format("a shared region of %d bytes has blocks of at least %d bytes "
                    + "(at most %d blocks per region) and must be a multiple of that; use %d or %d bytes",
                    size, granule, MAX_GRANULES, size / granule * granule, (size / granule + 1) * granule));
        }
        return new SharedRegion(memory, new BlockAllocator(size, granule), guestAddress);
    }

    /**
     * {@return the memfd-backed memory every attached VM maps; the region's own, closed with it}
     *
     * @throws IllegalStateException if the region is closed
     */
    public GuestMemory memory() {
        ensureOpen();
        return memory;
    }

    /**
     * {@return the allocator of the region's blocks (offsets are relative to {@link #guestAddress()})}
     *
     * @throws IllegalStateException if the region is closed
     */
    public BlockAllocator allocator() {
        ensureOpen();
        return allocator;
    }

    /**
     * {@return the guest-physical address where every VM maps the region}
     *
     * @throws IllegalStateException if the region is closed
     */
    public long guestAddress() {
        ensureOpen();
        return guestAddress;
    }

    /**
     * {@return the region's size in bytes}
     *
     * @throws IllegalStateException if the region is closed
     */
    public long size() {
        return memory.size(); // refuses once closed
    }

    /**
     * {@return the smallest block and the unit of every block's size and offset, in bytes: 64 for
     * regions up to 16 MiB, more beyond (at most {@link #MAX_GRANULES} blocks)}
     *
     * @throws IllegalStateException if the region is closed
     */
    public long granule() {
        ensureOpen();
        return allocator.alignment();
    }

    /**
     * {@return whether guest-physical {@code gpa} lies inside the region}
     *
     * @param gpa a guest-physical address
     * @throws IllegalStateException if the region is closed
     */
    public boolean contains(long gpa) {
        long size = memory.size(); // refuses once closed
        return gpa >= guestAddress && gpa - guestAddress < size;
    }

    private void ensureOpen() {
        if (memory.isClosed()) {
            throw new IllegalStateException("shared region (" + memory + ") is closed");
        }
    }

    /** {@return whether {@link #close()} was called (or the memory closed directly)} */
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
