package dev.kvmctl.guests.shm;

/**
 * Per-VM limits on the shared region, enforced by {@link SharedMemoryHub}: how many blocks, and
 * how many bytes of blocks, one VM may have allocated and not yet freed. A block counts against
 * the VM that allocated it until someone frees it or the VM holding it ends, wherever it is
 * meanwhile (in its allocator's hands, in a peer's inbox, held by a peer), so a peer can never use
 * up another VM's quota; an ALLOC that would go over gets the status {@code QUOTA}
 * ({@code docs/shared-memory-abi.md}).
 *
 * <p>0 stands for the default: {@value #DEFAULT_BLOCKS} blocks, and for bytes a fair share, the
 * region's size divided by the number of VMs (rounded down to the region's granule, at least one
 * granule). With every VM within its default share the region cannot fill up, so a VM asking for
 * one granule within its quota always gets it, whatever its peers hoard.
 *
 * <pre>{@code
 * try (SharedRegion region = SharedRegion.create("demo", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
 *      SharedMemoryHub hub = new SharedMemoryHub(region, Quotas.defaults().withBlocks(1000).withBytes(1 << 20))) {
 *     System.out.println(hub.quotas());   // Quotas[blocks=1000, bytes=1048576] per VM
 * }
 * }</pre>
 *
 * @param blocks blocks per VM; 0 for the default
 * @param bytes bytes per VM; 0 for the default
 */
public record Quotas(long blocks, long bytes) {
    /** The default block quota per VM: enough for any message window, small enough to bound the host's bookkeeping. */
    public static final long DEFAULT_BLOCKS = 4096;

    /**
     * Checks that neither limit is negative.
     *
     * @param blocks blocks per VM; 0 for the default
     * @param bytes bytes per VM; 0 for the default
     * @throws IllegalArgumentException if either is negative
     */
    public Quotas {
        if (blocks < 0 || bytes < 0) {
            throw new IllegalArgumentException("quotas must be positive (or 0 for the default), got "
                    + blocks + " blocks and " + bytes + " bytes");
        }
    }

    /** {@return both limits at their defaults: 0 and 0, resolved when the hub knows its VMs} */
    public static Quotas defaults() {
        return new Quotas(0, 0);
    }

    /**
     * Changes the block limit.
     *
     * @param v blocks per VM; 0 for the default
     * @return these quotas with that block limit
     * @throws IllegalArgumentException if {@code v} is negative
     */
    public Quotas withBlocks(long v) {
        return new Quotas(v, bytes);
    }

    /**
     * Changes the byte limit.
     *
     * @param v bytes per VM; 0 for the default
     * @return these quotas with that byte limit
     * @throws IllegalArgumentException if {@code v} is negative
     */
    public Quotas withBytes(long v) {
        return new Quotas(blocks, v);
    }

    /**
     * The limits in force for {@code vms} VMs sharing a region of {@code regionSize} bytes whose
     * blocks are multiples of {@code granule}: the defaults filled in.
     *
     * @param regionSize the region's size in bytes, positive
     * @param granule the region's smallest block, positive
     * @param vms how many VMs share it, positive
     * @return quotas with no 0 left in them
     * @throws IllegalArgumentException if any argument is not positive
     */
    public Quotas resolve(long regionSize, long granule, int vms) {
        if (regionSize <= 0 || granule <= 0 || vms <= 0) {
            throw new IllegalArgumentException("need a region, a granule and at least one VM");
        }
        long share = Math.max(granule, regionSize / vms / granule * granule);
        return new Quotas(blocks == 0 ? DEFAULT_BLOCKS : blocks, bytes == 0 ? share : bytes);
    }
}
