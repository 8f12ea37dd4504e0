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
 */
public record BootInfo(long ramSize, long sharedBase, long sharedSize, int vmIndex, int vmCount, long[] args) {
    public static final int MAGIC = 0x4b564d43; // "KVMC"
    public static final int VERSION = 1;
    public static final int ARGS = 4;

    public BootInfo {
        if (args.length > ARGS) {
            throw new IllegalArgumentException("at most " + ARGS + " guest arguments, got " + args.length);
        }
        args = java.util.Arrays.copyOf(args, ARGS);
    }

    /** A boot info for a single VM without a shared region. */
    public static BootInfo single(long ramSize, long... args) {
        return new BootInfo(ramSize, 0, 0, 0, 1, args);
    }

    @Override
    public long[] args() {
        return args.clone();
    }

    /** Writes the structure at {@code offset} of {@code ram}. */
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
