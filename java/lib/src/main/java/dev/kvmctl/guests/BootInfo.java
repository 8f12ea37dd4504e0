package dev.kvmctl.guests;

import dev.kvmctl.GuestMemory;

/**
 * The boot-info page kvmctl writes for long-mode guests (see {@code docs/guest-contract.md} and
 * {@code vm-images/include/kvmctl_guest.h}): RAM size, the shared region, the VM's index and up to
 * four arguments. Its address is passed in RDI.
 *
 * <pre>{@code
 * new BootInfo(ram.size(), 0, 0, 0, 1, new long[] {1000, 0, 0, 0}).writeTo(ram, BootSetup.BOOT_INFO);
 * }</pre>
 *
 * @param ramSize the guest's RAM in bytes
 * @param sharedBase the guest-physical address of the shared region, 0 when there is none
 * @param sharedSize the shared region's size in bytes, 0 when there is none
 * @param vmIndex this VM's index among the VMs started together, from 0
 * @param vmCount how many VMs were started together, at least 1
 * @param args up to {@link #ARGS} guest arguments; missing ones are 0
 */
public record BootInfo(long ramSize, long sharedBase, long sharedSize, int vmIndex, int vmCount, long[] args) {
    /** The first word of the page, "KVMC" in ASCII read little-endian: how a guest knows the page is there. */
    public static final int MAGIC = 0x4b564d43;
    /** The layout's version, the page's second word; a new field makes a new version. */
    public static final int VERSION = 1;
    /** How many argument words the page holds. */
    public static final int ARGS = 4;

    /**
     * Pads {@code args} with zeros to {@link #ARGS} words (a copy: the record never shares the array).
     *
     * @param ramSize the guest's RAM in bytes
     * @param sharedBase the guest-physical address of the shared region, 0 when there is none
     * @param sharedSize the shared region's size in bytes, 0 when there is none
     * @param vmIndex this VM's index among the VMs started together
     * @param vmCount how many VMs were started together
     * @param args up to {@link #ARGS} guest arguments
     * @throws IllegalArgumentException for more than {@link #ARGS} arguments
     */
    public BootInfo {
        if (args.length > ARGS) {
            throw new IllegalArgumentException("at most " + ARGS + " guest arguments, got " + args.length);
        }
        args = java.util.Arrays.copyOf(args, ARGS);
    }

    /**
     * A boot info for a single VM without a shared region.
     *
     * @param ramSize the guest's RAM in bytes
     * @param args up to {@link #ARGS} guest arguments
     * @return VM 0 of 1, no shared region
     */
    public static BootInfo single(long ramSize, long... args) {
        return new BootInfo(ramSize, 0, 0, 0, 1, args);
    }

    /** {@return the {@link #ARGS} argument words, a copy} */
    @Override
    public long[] args() {
        return args.clone();
    }

    /**
     * Writes the page's fields, little-endian, as {@code vm-images/include/kvmctl_guest.h} lays them out.
     *
     * @param ram the guest's RAM
     * @param offset where in {@code ram}: {@link BootSetup#BOOT_INFO} for a guest set up by kvmctl
     * @throws IndexOutOfBoundsException if the 72 bytes do not fit in {@code ram} at {@code offset}
     */
    public void writeTo(GuestMemory ram, long offset) {
        ram.putInt(offset, MAGIC);
        ram.putInt(offset + 4, VERSION);
        ram.putLong(offset + 8, ramSize);
        ram.putLong(offset + 16, sharedBase);
        ram.putLong(offset + 24, sharedSize);
        ram.putInt(offset + 32, vmIndex);
        ram.putInt(offset + 36, vmCount);
        for (int i = 0; i < ARGS; i++) {
            ram.putLong(offset + 40 + 8L * i, args[i]);
        }
    }
}
