package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import java.nio.ByteBuffer;

/**
 * An in-kernel device made by {@link Vm#createDevice(int)} ({@code KVM_CREATE_DEVICE}): a VFIO
 * bridge, an interrupt controller of another architecture, ... It is configured through attributes,
 * each named by a group and an attribute number from the kernel headers. Closing it closes its
 * descriptor; the VM keeps the device itself until the VM is closed.
 *
 * <p>A closed device refuses every call with {@link IllegalStateException} except {@link #close()}
 * (idempotent), {@link #isClosed()} and {@code toString()}.
 */
public final class Device implements AutoCloseable {
    private final OwnedFd fd;
    private final int type;

    Device(OwnedFd fd, int type) {
        this.fd = fd;
        this.type = type;
    }

    /**
     * {@return the device type it was created with, a {@code KVM_DEV_TYPE_*} number}
     *
     * @throws IllegalStateException if this device is closed
     */
    public int type() {
        fd.get();
        return type;
    }

    /**
     * The device's file descriptor, for callers that issue their own ioctls. The number is the
     * caller's to guard: after {@link #close()} it may name another file.
     *
     * @return the descriptor, owned by this device (do not close it)
     * @throws IllegalStateException if this device is closed
     */
    public int fd() {
        return fd.get();
    }

    /**
     * Asks whether the device has an attribute. Issues {@code KVM_HAS_DEVICE_ATTR}.
     *
     * @param group the attribute group, e.g. {@code KVM_DEV_VFIO_FILE}
     * @param attr the attribute within the group
     * @return true if it has; false when the kernel answers {@code ENXIO}
     * @throws KvmException for any other error
     * @throws IllegalStateException if this device is closed
     */
    public boolean hasAttribute(int group, long attr) {
        return DeviceAttributes.has(fd, group, attr);
    }

    /**
     * Reads a 64-bit attribute. Issues {@code KVM_GET_DEVICE_ATTR} with the address of 8 bytes.
     *
     * @param group the attribute group
     * @param attr the attribute within the group
     * @return the value, as the kernel wrote it (little-endian; attributes narrower than 8 bytes
     *     fill the low bytes)
     * @throws KvmException {@code ENXIO} for an attribute the device lacks
     * @throws IllegalStateException if this device is closed
     */
    public long getAttribute(int group, long attr) {
        return DeviceAttributes.get(fd, group, attr);
    }

    /**
     * Reads an attribute of any size into {@code into}. Issues {@code KVM_GET_DEVICE_ATTR} with the
     * buffer's address.
     *
     * @param group the attribute group
     * @param attr the attribute within the group
     * @param into a direct buffer at least as large as the attribute, written from its start
     * @throws IllegalArgumentException if {@code into} is not direct
     * @throws KvmException {@code ENXIO} for an attribute the device lacks
     * @throws IllegalStateException if this device is closed
     */
    public void getAttribute(int group, long attr, ByteBuffer into) {
        fd.get();
        DeviceAttributes.get(fd, group, attr, into);
    }

    /**
     * Writes a 64-bit attribute. Issues {@code KVM_SET_DEVICE_ATTR} with the address of 8 bytes.
     *
     * @param group the attribute group
     * @param attr the attribute within the group
     * @param value the value
     * @throws KvmException {@code ENXIO} for an attribute the device lacks, {@code EINVAL} for a
     *     value it refuses
     * @throws IllegalStateException if this device is closed
     */
    public void setAttribute(int group, long attr, long value) {
        fd.get();
        DeviceAttributes.set(fd, group, attr, value);
    }

    /**
     * Writes an attribute from {@code from}, or one that takes no value. Issues
     * {@code KVM_SET_DEVICE_ATTR} with the buffer's address (0 for null).
     *
     * @param group the attribute group
     * @param attr the attribute within the group
     * @param from a direct buffer holding the value from its start, or null for none
     * @throws IllegalArgumentException if {@code from} is not direct
     * @throws KvmException {@code ENXIO} for an attribute the device lacks, {@code EINVAL} or
     *     {@code EBADF} for a value it refuses
     * @throws IllegalStateException if this device is closed
     */
    public void setAttribute(int group, long attr, ByteBuffer from) {
        fd.get();
        DeviceAttributes.set(fd, group, attr, from);
    }

    /** {@return whether {@link #close()} was called} */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /** Closes the device's descriptor; idempotent. */
    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return "Device[type " + type + ", " + fd + "]";
    }
}
