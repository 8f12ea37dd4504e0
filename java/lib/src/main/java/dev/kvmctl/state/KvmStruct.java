package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Memory;
import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * A kernel struct held in its own direct buffer, in the kernel's layout. The vCPU and VM ioctls
 * read and write it in place by address, so a get or set copies nothing on the Java side; the
 * typed subclasses read fields at offsets exported by the native library.
 *
 * <p>Instances are not thread-safe. Two structs of the same type and size compare equal when their
 * bytes are equal.
 */
public abstract class KvmStruct {
    /** The struct's bytes, little-endian, position 0, limit {@link #size()}. */
    protected final ByteBuffer buffer;
    private final long address;

    protected KvmStruct(int size) {
        this.buffer = Memory.allocate(size);
        this.address = Memory.addressOf(buffer);
    }

    /** The struct's size in bytes, as the kernel sees it. */
    public final int size() {
        return buffer.capacity();
    }

    /** The native address of the struct, valid while this object is reachable; for ioctl calls. */
    public final long address() {
        return address;
    }

    /** A copy of the struct's bytes. */
    public final byte[] toByteArray() {
        byte[] bytes = new byte[size()];
        buffer.get(0, bytes);
        return bytes;
    }

    /** Writes the struct's bytes at the buffer's position, advancing it. */
    public final void writeTo(ByteBuffer out) {
        out.put(buffer.duplicate().clear());
    }

    /**
     * Replaces the struct's bytes with {@code bytes}, which must be exactly {@link #size()} long
     * and describe a valid struct (a list's count within its capacity); otherwise nothing changes.
     */
    public final void load(byte[] bytes) {
        if (bytes.length != size()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " needs " + size()
                    + " bytes, got " + bytes.length);
        }
        validate(java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN));
        buffer.put(0, bytes);
    }

    /**
     * Checks bytes about to become this struct's, before they do: a struct whose header tells the
     * kernel how many entries follow must not claim more than its buffer holds, or the kernel would
     * read or write past it. The default accepts anything.
     */
    protected void validate(ByteBuffer candidate) {}

    /** Reads {@link #size()} bytes from {@code in} at its position, advancing it. */
    public final void readFrom(ByteBuffer in) {
        if (in.remaining() < size()) {
            throw new IllegalArgumentException(getClass().getSimpleName() + " needs " + size()
                    + " bytes, " + in.remaining() + " remain");
        }
        ByteBuffer src = in.slice(in.position(), size()).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        validate(src.duplicate().order(java.nio.ByteOrder.LITTLE_ENDIAN));
        buffer.duplicate().clear().put(src);
        in.position(in.position() + size());
    }

    /** Copies another struct of the same type and size into this one. */
    public final void copyFrom(KvmStruct other) {
        if (other.getClass() != getClass() || other.size() != size()) {
            throw new IllegalArgumentException("cannot copy " + other.getClass().getSimpleName()
                    + "(" + other.size() + " bytes) into " + getClass().getSimpleName() + "(" + size() + " bytes)");
        }
        Memory.copy(other.address, address, size());
    }

    /** Sets every byte to zero. */
    public final void clear() {
        Memory.fill(address, size(), (byte) 0);
    }

    @Override
    public final boolean equals(Object o) {
        return o instanceof KvmStruct other && other.getClass() == getClass()
                && other.buffer.equals(buffer);
    }

    @Override
    public final int hashCode() {
        return buffer.hashCode();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + Arrays.toString(toByteArray());
    }
}
