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

    /**
     * A zeroed struct in a new direct buffer of its own.
     *
     * @param size the struct's size in bytes, as the kernel defines it
     */
    protected KvmStruct(int size) {
        this.buffer = Memory.allocate(size);
        this.address = Memory.addressOf(buffer);
    }

    /** {@return the struct's size in bytes, as the kernel sees it} */
    public final int size() {
        return buffer.capacity();
    }

    /**
     * {@return the native address of the struct, for ioctl calls} It is valid while this object
     * is reachable: a caller that hands it to the kernel keeps the object reachable until the
     * call returns.
     */
    public final long address() {
        return address;
    }

    /** {@return a new array holding a copy of the struct's bytes, in the kernel's layout} */
    public final byte[] toByteArray() {
        byte[] bytes = new byte[size()];
        buffer.get(0, bytes);
        return bytes;
    }

    /**
     * Writes the struct's bytes at the buffer's position, advancing it.
     *
     * @param out the buffer to write into
     * @throws java.nio.BufferOverflowException if fewer than {@link #size()} bytes remain in
     *     {@code out}
     */
    public final void writeTo(ByteBuffer out) {
        out.put(buffer.duplicate().clear());
    }

    /**
     * Replaces the struct's bytes with {@code bytes}, which must be exactly {@link #size()} long
     * and describe a valid struct (a list's count within its capacity); otherwise nothing changes.
     *
     * @param bytes the new contents, in the kernel's layout (as {@link #toByteArray()} gives them)
     * @throws IllegalArgumentException if {@code bytes} has another length or is not a valid
     *     struct of this type
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
     *
     * @param candidate the bytes, little-endian, at position 0 and {@link #size()} long
     * @throws IllegalArgumentException if they are not a valid struct of this type
     */
    protected void validate(ByteBuffer candidate) {}

    /**
     * Replaces the struct's bytes with {@link #size()} bytes read from {@code in} at its position,
     * advancing it; as {@link #load(byte[])}, nothing changes if they are not valid.
     *
     * @param in the buffer to read from
     * @throws IllegalArgumentException if fewer than {@link #size()} bytes remain, or they are not
     *     a valid struct of this type
     */
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

    /**
     * Copies another struct of the same type and size into this one.
     *
     * @param other the struct to copy from
     * @throws IllegalArgumentException if {@code other} has another type or size
     */
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
