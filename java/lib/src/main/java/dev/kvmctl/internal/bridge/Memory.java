package dev.kvmctl.internal.bridge;

import com.kenai.jffi.MemoryIO;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Raw memory helpers: direct buffers over native addresses and the addresses of direct buffers.
 * Callers check bounds; these do not.
 */
public final class Memory {
    private static final MemoryIO IO = MemoryIO.getInstance();

    private Memory() {}

    /** A little-endian direct buffer over {@code size} bytes at {@code address}, which the caller keeps mapped. */
    public static ByteBuffer wrap(long address, int size) {
        return IO.newDirectByteBuffer(address, size).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** A zeroed, little-endian, 64-byte aligned direct buffer of {@code size} bytes. */
    public static ByteBuffer allocate(int size) {
        int rounded = (size + 63) & ~63;
        return ByteBuffer.allocateDirect(rounded + 64).alignedSlice(64).limit(size).slice()
                .order(ByteOrder.LITTLE_ENDIAN);
    }

    /** The native address of a direct buffer's first byte. */
    public static long addressOf(ByteBuffer direct) {
        if (!direct.isDirect()) {
            throw new IllegalArgumentException("not a direct buffer");
        }
        return IO.getDirectBufferAddress(direct);
    }

    public static void copyOut(long address, byte[] dst, int offset, int length) {
        IO.getByteArray(address, dst, offset, length);
    }

    public static void copyIn(long address, byte[] src, int offset, int length) {
        IO.putByteArray(address, src, offset, length);
    }

    public static void copy(long from, long to, long length) {
        IO.copyMemory(from, to, length);
    }

    public static void fill(long address, long length, byte value) {
        IO.setMemory(address, length, value);
    }

    public static byte getByte(long address) {
        return IO.getByte(address);
    }

    public static void putByte(long address, byte value) {
        IO.putByte(address, value);
    }

    public static short getShort(long address) {
        return IO.getShort(address);
    }

    public static void putShort(long address, short value) {
        IO.putShort(address, value);
    }

    public static int getInt(long address) {
        return IO.getInt(address);
    }

    public static void putInt(long address, int value) {
        IO.putInt(address, value);
    }

    public static long getLong(long address) {
        return IO.getLong(address);
    }

    public static void putLong(long address, long value) {
        IO.putLong(address, value);
    }

    /** Whether {@code length} bytes at {@code address} are all zero (for sparse snapshots). */
    public static boolean isZero(long address, long length) {
        long i = 0;
        for (; i + 8 <= length; i += 8) {
            if (IO.getLong(address + i) != 0) {
                return false;
            }
        }
        for (; i < length; i++) {
            if (IO.getByte(address + i) != 0) {
                return false;
            }
        }
        return true;
    }
}
