package dev.kvmctl;


/**
 * One KVM memory slot: a range of guest-physical addresses backed by part of a {@link GuestMemory}.
 * Created by {@link Vm#mapMemory}; immutable (a move returns a new slot object).
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      GuestMemory ram = GuestMemory.anonymous(1 << 20);
 *      Vm vm = kvm.createVm()) {
 *     MemorySlot slot = vm.mapMemory(0, ram, MemorySlot.LOG_DIRTY_PAGES);
 *     // ... run the guest, then:
 *     BitSet dirty = vm.dirtyLog(slot);      // bit i: page i of the slot was written since the last call
 * }
 * }</pre>
 *
 * @param id the slot number given to KVM
 * @param guestAddress the first guest-physical address
 * @param size bytes, a multiple of 4 KiB
 * @param memory the host memory behind it, which the slot holds until it is removed
 * @param memoryOffset where in {@code memory} the slot starts
 * @param flags {@link #LOG_DIRTY_PAGES}, {@link #READONLY}
 */
public record MemorySlot(int id, long guestAddress, long size, GuestMemory memory, long memoryOffset, int flags) {
    /**
     * A flag: KVM logs the pages the guest writes, for {@link Vm#dirtyLog(MemorySlot)}
     * ({@code KVM_MEM_LOG_DIRTY_PAGES}).
     */
    public static final int LOG_DIRTY_PAGES = dev.kvmctl.internal.bridge.Layout.intValue("KVM_MEM_LOG_DIRTY_PAGES");
    /**
     * A flag: guest writes exit as {@link VmExit.MmioWrite} instead of landing in memory
     * ({@code KVM_MEM_READONLY}; needs {@link Capability#READONLY_MEM}).
     */
    public static final int READONLY = dev.kvmctl.internal.bridge.Layout.intValue("KVM_MEM_READONLY");

    /** {@return the guest-physical address one past the slot's last byte} */
    public long guestEnd() {
        return guestAddress + size;
    }

    /**
     * {@return whether all of {@code [gpa, gpa+length)} lies inside this slot}
     *
     * @param gpa the guest-physical address of the range's first byte
     * @param length the range's length in bytes
     */
    public boolean contains(long gpa, long length) {
        return gpa >= guestAddress && length >= 0 && gpa - guestAddress <= size - length;
    }

    /**
     * {@return the size of this slot's dirty log in bytes: one bit per 4 KiB page, rounded up to
     * whole 64-bit words, as {@link Vm#dirtyLog(MemorySlot, java.nio.ByteBuffer)} needs}
     */
    public int dirtyLogBytes() {
        return (int) ((size / GuestMemory.PAGE_SIZE + 63) / 64 * 8);
    }

    @Override
    public String toString() {
        return String.format("slot %d [0x%x, 0x%x) -> %s+0x%x%s%s", id, guestAddress, guestEnd(), memory,
                memoryOffset, (flags & LOG_DIRTY_PAGES) != 0 ? " dirty-log" : "", (flags & READONLY) != 0 ? " ro" : "");
    }
}
