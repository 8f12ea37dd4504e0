package dev.kvmctl;

import dev.kvmctl.internal.Mapping;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.Memory;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

/**
 * One vCPU's dirty ring ({@code KVM_CAP_DIRTY_LOG_RING}): the pages the vCPU wrote in slots mapped
 * with {@link MemorySlot#LOG_DIRTY_PAGES}, as {@code (slot, page)} entries in a ring shared with
 * the kernel. Enable the rings with {@link Vm#enableDirtyRing(int)} before creating vCPUs, take
 * each vCPU's with {@link Vcpu#dirtyRing()}, {@link #harvest} it, then call
 * {@link Vm#resetDirtyRings()} so KVM write-protects the harvested pages again and reuses their
 * entries. A vCPU whose ring fills exits with {@link VmExit.DirtyRingFull}.
 *
 * <p>Harvesting allocates nothing. The ring belongs to its vCPU: once the vCPU is closed every call
 * refuses with {@link IllegalStateException}, and the mapping is swapped for a zero page as the
 * {@code kvm_run} page is.
 */
public final class DirtyRing {
    private static final int ENTRY = Layout.sizeOf("kvm_dirty_gfn");
    private static final int FLAGS = Layout.offsetOf("kvm_dirty_gfn", "flags");
    private static final int SLOT = Layout.offsetOf("kvm_dirty_gfn", "slot");
    private static final int OFFSET = Layout.offsetOf("kvm_dirty_gfn", "offset");
    private static final int F_DIRTY = Layout.intValue("KVM_DIRTY_GFN_F_DIRTY");
    private static final int F_RESET = Layout.intValue("KVM_DIRTY_GFN_F_RESET");

    /** Receives one harvested entry. */
    @FunctionalInterface
    public interface Consumer {
        /**
         * One dirty page.
         *
         * @param slot the memory slot id ({@link MemorySlot#id()}; address space in bits 16 and up)
         * @param page the page's index within the slot (its offset divided by 4 KiB)
         */
        void dirty(int slot, long page);
    }

    private final Mapping mapping;
    private final ByteBuffer ring;
    private final int entries;
    private final String owner;
    private volatile boolean closed;
    /** The next entry to look at; only the harvesting thread moves it. */
    private long next;

    DirtyRing(long address, int bytes, String owner) {
        this.mapping = new Mapping(address, bytes);
        this.ring = mapping.anchor(Memory.wrap(address, bytes));
        this.entries = bytes / ENTRY;
        this.owner = owner;
    }

    /**
     * {@return how many entries the ring holds}
     *
     * @throws IllegalStateException if the vCPU is closed
     */
    public int capacity() {
        check();
        return entries;
    }

    /**
     * Hands every entry the kernel has published since the last harvest to {@code consumer} and
     * marks it harvested; KVM recycles them at the next {@link Vm#resetDirtyRings()}.
     *
     * @param consumer called once per dirty page, in the order the vCPU dirtied them
     * @return how many entries were harvested
     * @throws IllegalStateException if the vCPU is closed
     */
    public int harvest(Consumer consumer) {
        check();
        int count = 0;
        while (true) {
            int at = (int) (next % entries) * ENTRY;
            VarHandle.acquireFence();
            int flags = ring.getInt(at + FLAGS);
            if ((flags & F_DIRTY) == 0) {
                return count;
            }
            consumer.dirty(ring.getInt(at + SLOT), ring.getLong(at + OFFSET));
            VarHandle.releaseFence();
            ring.putInt(at + FLAGS, F_RESET);
            next++;
            count++;
        }
    }

    private void check() {
        if (closed) {
            throw new IllegalStateException(owner + " is closed: its dirty ring can no longer be read");
        }
    }

    /** With the vCPU: refuses later calls and lets go of the mapping. */
    void close() {
        closed = true;
        mapping.retire();
    }

    @Override
    public String toString() {
        return "DirtyRing[" + owner + ", " + entries + " entries" + (closed ? ", closed" : "") + "]";
    }
}
