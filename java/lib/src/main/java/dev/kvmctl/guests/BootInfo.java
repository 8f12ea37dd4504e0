package dev.kvmctl.guests;

import dev.kvmctl.GuestMemory;

/**
 * The boot info kvmctl writes for long-mode guests (see {@code docs/guest-contract.md} and
 * {@code vm-images/include/kvmctl_guest.h}): RAM size, the shared region, the VM's index, up to
 * four arguments, and the vCPU's index among the VM's vCPUs. Each vCPU has its own copy, vCPU
 * {@code i}'s at {@link BootSetup#BOOT_INFO} + {@code i * }{@link #STRIDE} ({@link #address()}),
 * and finds its address in RDI; vCPU 0's is at {@link BootSetup#BOOT_INFO}, as in version 1.
 *
 * <pre>{@code
 * BootInfo info = new BootInfo(ram.size(), 0, 0, 0, 1, new long[] {1000, 0, 0, 0});
 * info.forCpu(1, 2).writeTo(ram, info.forCpu(1, 2).address());
 * }</pre>
 *
 * @param ramSize the guest's RAM in bytes
 * @param sharedBase the guest-physical address of the shared region, 0 when there is none
 * @param sharedSize the shared region's size in bytes, 0 when there is none
 * @param vmIndex this VM's index among the VMs started together, from 0
 * @param vmCount how many VMs were started together, at least 1
 * @param args up to {@link #ARGS} guest arguments; missing ones are 0
 * @param cpuIndex the index of the vCPU this copy is for, from 0
 * @param cpuCount how many vCPUs the VM has, 1 to {@link #MAX_CPUS}
 */
public record BootInfo(long ramSize, long sharedBase, long sharedSize, int vmIndex, int vmCount, long[] args,
                       int cpuIndex, int cpuCount) {
    /** The first word of the page, "KVMC" in ASCII read little-endian: how a guest knows the page is there. */
    public static final int MAGIC = 0x4b564d43;
    /** The layout's version, the page's second word; a new field makes a new version. */
    public static final int VERSION = 2;
    /** How many argument words the page holds. */
    public static final int ARGS = 4;
    /** Bytes between two vCPUs' copies: 80 used, rounded up. */
    public static final int STRIDE = 128;
    /** The most vCPUs a kvmctl guest has: their copies fill the boot-info page. */
    public static final int MAX_CPUS = 4096 / STRIDE;

    /**
     * Pads {@code args} with zeros to {@link #ARGS} words (a copy: the record never shares the array).
     *
     * @param ramSize the guest's RAM in bytes
     * @param sharedBase the guest-physical address of the shared region, 0 when there is none
     * @param sharedSize the shared region's size in bytes, 0 when there is none
     * @param vmIndex this VM's index among the VMs started together
     * @param vmCount how many VMs were started together
     * @param args up to {@link #ARGS} guest arguments
     * @param cpuIndex the index of the vCPU this copy is for
     * @param cpuCount how many vCPUs the VM has
     * @throws IllegalArgumentException for more than {@link #ARGS} arguments, or a vCPU index
     *     outside {@code [0, cpuCount)} or a count above {@link #MAX_CPUS}
     */
    public BootInfo {
        if (args.length > ARGS) {
            throw new IllegalArgumentException("at most " + ARGS + " guest arguments, got " + args.length);
        }
        if (cpuCount < 1 || cpuCount > MAX_CPUS || cpuIndex < 0 || cpuIndex >= cpuCount) {
            throw new IllegalArgumentException("vCPU " + cpuIndex + " of " + cpuCount + ": a guest has 1 to " + MAX_CPUS
                    + " vCPUs, indexed from 0");
        }
        args = java.util.Arrays.copyOf(args, ARGS);
    }

    /**
     * The boot info of vCPU 0 of a one-vCPU VM.
     *
     * @param ramSize the guest's RAM in bytes
     * @param sharedBase the guest-physical address of the shared region, 0 when there is none
     * @param sharedSize the shared region's size in bytes, 0 when there is none
     * @param vmIndex this VM's index among the VMs started together
     * @param vmCount how many VMs were started together
     * @param args up to {@link #ARGS} guest arguments
     * @throws IllegalArgumentException for more than {@link #ARGS} arguments
     */
    public BootInfo(long ramSize, long sharedBase, long sharedSize, int vmIndex, int vmCount, long[] args) {
        this(ramSize, sharedBase, sharedSize, vmIndex, vmCount, args, 0, 1);
    }

    /**
     * {@return the same boot info for vCPU {@code index} of {@code count}}
     *
     * @param index the vCPU's index, from 0
     * @param count how many vCPUs the VM has, 1 to {@link #MAX_CPUS}
     * @throws IllegalArgumentException if {@code index} is not in {@code [0, count)} or {@code count} is too large
     */
    public BootInfo forCpu(int index, int count) {
        return new BootInfo(ramSize, sharedBase, sharedSize, vmIndex, vmCount, args, index, count);
    }

    /** {@return the guest-physical address of this vCPU's copy: {@link BootSetup#BOOT_INFO} + index * {@link #STRIDE}} */
    public long address() {
        return BootSetup.BOOT_INFO + (long) cpuIndex * STRIDE;
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
     * @param offset where in {@code ram}: {@link #address()} for a guest set up by kvmctl
     * @throws IndexOutOfBoundsException if the 80 bytes do not fit in {@code ram} at {@code offset}
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
        ram.putInt(offset + 72, cpuIndex);
        ram.putInt(offset + 76, cpuCount);
    }
}
