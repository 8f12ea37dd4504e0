package dev.kvmctl.internal;

import dev.kvmctl.memory.GuestMemory;

/**
 * How a {@code Vm} pins the {@link GuestMemory} behind its memory slots. Not a public method of
 * {@code GuestMemory}, where a caller could unpin memory a VM still maps and let it be unmapped
 * under the guest; {@code GuestMemory} installs the one implementation when its class initializes
 * (it has, whenever an instance exists). Only {@code dev.kvmctl.Vm} calls it.
 */
public final class MemoryPins {
    /** Pinning operations on guest memory. */
    public interface Pins {
        /**
         * Records one more slot over {@code memory} and returns its host address; from now until
         * the matching {@link #unpin} the mapping stays, even if {@code memory} is closed.
         *
         * @throws IllegalStateException if {@code memory} is closed
         */
        long pin(GuestMemory memory);

        /** The host address of memory that is pinned (closed or not). */
        long pinnedAddress(GuestMemory memory);

        /** Undoes one {@link #pin}; memory closed meanwhile is released with its last pin. */
        void unpin(GuestMemory memory);
    }

    private static volatile Pins pins;

    private MemoryPins() {}

    /** Called once, by {@code GuestMemory}'s static initializer. */
    public static void install(Pins implementation) {
        if (pins != null) {
            throw new IllegalStateException("guest memory pins are already installed");
        }
        pins = implementation;
    }

    /** The implementation; {@code GuestMemory} is initialized whenever there is memory to pin. */
    public static Pins get() {
        return pins;
    }
}
