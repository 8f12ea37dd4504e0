package dev.kvmctl;


/**
 * One KVM memory slot: a range of guest-physical addresses backed by part of a {@link GuestMemory}.
 * Created by {@link Vm#mapMemory}; immutable (a move returns a new slot object).
 *
 * <pre>{@code
 * MemorySlot ram = vm.mapMemory(0, memory);
 * MemorySlot logged = vm.mapMemory(0x100000000L, more, MemorySlot.LOG_DIRTY_PAGES);
 * long[] dirty = vm.dirtyLog(logged);
 * }</pre>
 *
 * @param id the slot number given to KVM
 * @param guestAddress the first guest-physical address
 * @param size bytes, a multiple of 4 KiB
 * @param memory the host memory behind it
 * @param memoryOffset where in {@code memory} the slot starts
 * @param flags {@link #LOG_DIRTY_PAGES}, {@link #READONLY}
 */
public record MemorySlot(int id, long guestAddress, long size, GuestMemory memory, long memoryOffset, int flags) {
    /** Track writes for {@link Vm#dirtyLog(MemorySlot)}. */
    public static final int LOG_DIRTY_PAGES = dev.kvmctl.internal.bridge.Layout.intValue("KVM_MEM_LOG_DIRTY_PAGES");
    /** Guest writes exit as MMIO writes instead of landing in memory. */
    public static final int READONLY = dev.kvmctl.internal.bridge.Layout.intValue("KVM_MEM_READONLY");

    /** One past the last guest-physical address. */
    public long guestEnd() {
        return guestAddress + size;
    }

    /** Whether {@code [gpa, gpa+length)} lies inside this slot. */
    public boolean contains(long gpa, long length) {
        return gpa >= guestAddress && length >= 0 && gpa - guestAddress <= size - length;
    }

    @Override
    public String toString() {
        return String.format("slot %d [0x%x, 0x%x) -> %s+0x%x%s%s", id, guestAddress, guestEnd(), memory,
                memoryOffset, (flags & LOG_DIRTY_PAGES) != 0 ? " dirty-log" : "", (flags & READONLY) != 0 ? " ro" : "");
    }
}
