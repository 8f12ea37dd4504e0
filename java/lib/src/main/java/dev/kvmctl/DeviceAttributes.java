package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.LibC;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.internal.bridge.Shim;
import java.nio.ByteBuffer;

/**
 * {@code KVM_HAS/GET/SET_DEVICE_ATTR}, shared by {@link Device} and {@link Vcpu} (the same three
 * ioctls on either kind of descriptor). Not a hot path: a value call allocates its 8-byte buffer.
 */
final class DeviceAttributes {

    private DeviceAttributes() {}

    static boolean has(OwnedFd fd, int group, long attr) {
        int f = fd.acquire();
        try {
            int rc = Shim.hasDeviceAttr(f, 0, group, attr, 0);
            if (rc == -LibC.ENXIO) {
                return false; // the kernel's answer for "no such attribute"
            }
            KvmException.check(rc, "KVM_HAS_DEVICE_ATTR");
            return true;
        } finally {
            fd.release();
        }
    }

    static long get(OwnedFd fd, int group, long attr) {
        ByteBuffer value = Memory.allocate(8);
        get(fd, group, attr, value);
        return value.getLong(0);
    }

    static void get(OwnedFd fd, int group, long attr, ByteBuffer into) {
        call(fd, group, attr, direct(into), false);
    }

    static void set(OwnedFd fd, int group, long attr, long value) {
        ByteBuffer buffer = Memory.allocate(8);
        buffer.putLong(0, value);
        call(fd, group, attr, buffer, true);
    }

    static void set(OwnedFd fd, int group, long attr, ByteBuffer from) {
        call(fd, group, attr, from == null ? null : direct(from), true);
    }

    private static ByteBuffer direct(ByteBuffer buffer) {
        if (!buffer.isDirect()) {
            throw new IllegalArgumentException("a device attribute's value needs a direct buffer "
                    + "(ByteBuffer.allocateDirect): the kernel reads or writes it by address");
        }
        return buffer;
    }

    private static void call(OwnedFd fd, int group, long attr, ByteBuffer value, boolean set) {
        int f = fd.acquire();
        try {
            long address = value == null ? 0 : Memory.addressOf(value);
            int rc = set ? Shim.setDeviceAttr(f, 0, group, attr, address) : Shim.getDeviceAttr(f, 0, group, attr, address);
            KvmException.check(rc, set ? "KVM_SET_DEVICE_ATTR" : "KVM_GET_DEVICE_ATTR");
        } finally {
            fd.release();
            java.lang.ref.Reference.reachabilityFence(value);
        }
    }
}
