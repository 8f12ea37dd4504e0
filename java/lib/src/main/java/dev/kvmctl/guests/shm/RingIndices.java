package dev.kvmctl.guests.shm;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Acquire/release access to a ring's indices and flags in a direct buffer over the ring area
 * ({@code docs/shared-memory-abi.md}, "Rings"): the Java side of the ordering rules the guests
 * follow with {@code vm-images/src/shm-ring.h}. On x86-64 an acquire load and a release store are
 * plain moves; {@link #fullFence} is the {@code mfence} of the sleep handshake.
 */
final class RingIndices {
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INTS = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);

    private RingIndices() {}

    static long getAcquire(ByteBuffer area, int at) {
        return (long) LONGS.getAcquire(area, at);
    }

    static void setRelease(ByteBuffer area, int at, long value) {
        LONGS.setRelease(area, at, value);
    }

    static int getFlag(ByteBuffer area, int at) {
        return (int) INTS.getOpaque(area, at);
    }

    static void setFlag(ByteBuffer area, int at, int value) {
        INTS.setOpaque(area, at, value);
    }

    static void fullFence() {
        VarHandle.fullFence();
    }
}
