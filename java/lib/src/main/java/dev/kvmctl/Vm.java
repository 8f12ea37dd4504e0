package dev.kvmctl;

import com.google.common.collect.Range;
import com.google.common.collect.RangeMap;
import com.google.common.collect.TreeRangeMap;
import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.internal.bridge.Shim;
import dev.kvmctl.state.ClockData;
import dev.kvmctl.state.Irqchip;
import dev.kvmctl.state.KvmStruct;
import dev.kvmctl.state.PitState;
import java.lang.ref.Reference;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * A KVM virtual machine: its guest-physical memory map, in-kernel devices, eventfd wiring and
 * vCPUs. Closing it closes its vCPUs and removes its memory slots; the {@link GuestMemory} behind
 * them stays open for its owner to close (or to map into another VM). Objects may be closed in
 * any order: memory closed while a VM maps it stays mapped until the VM lets go of it.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      Vm vm = kvm.createVm();
 *      GuestMemory ram = GuestMemory.anonymous(1 << 20)) {
 *     vm.mapMemory(0, ram);
 *     ram.write(0x1000, new byte[] {(byte) 0xf4});                // hlt
 *     Vcpu vcpu = vm.createVcpu(0);
 *     vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)));
 *     vcpu.setRegs(vcpu.getRegs().rip(0x1000).rflags(2));
 *     System.out.println(vcpu.run());                               // hlt
 *     vm.close();                                                   // any order is safe
 * }
 * }</pre>
 *
 * <p>A VM may be used from several threads for its VM-wide calls; each {@link Vcpu} should be run
 * by one thread at a time.
 *
 * <p><b>After close.</b> A closed VM refuses every call with {@link IllegalStateException} except
 * {@link #close()} (idempotent), {@link #isClosed()} and {@code toString()}. Closing is safe from
 * any thread: each vCPU's {@link Vcpu#close()} stops a run in progress and waits for it, then the
 * VM descriptor is closed (once no call on it is in flight), and only then are the slots' memory
 * pins dropped, so no guest can run on memory that has been let go.
 */
public final class Vm implements AutoCloseable {
    private static final int PIT_SPEAKER_DUMMY = Layout.intValue("KVM_PIT_SPEAKER_DUMMY");
    private static final int IOEVENTFD_DATAMATCH = Layout.intValue("KVM_IOEVENTFD_FLAG_DATAMATCH");
    private static final int IOEVENTFD_PIO = Layout.intValue("KVM_IOEVENTFD_FLAG_PIO");
    private static final int IOEVENTFD_DEASSIGN = Layout.intValue("KVM_IOEVENTFD_FLAG_DEASSIGN");
    private static final int IRQFD_DEASSIGN = Layout.intValue("KVM_IRQFD_FLAG_DEASSIGN");

    /** Address space of an ioeventfd. */
    public enum IoSpace { PIO, MMIO }

    private final Kvm kvm;
    private final OwnedFd fd;
    private final int maxSlots;
    private final int xsaveSize;
    /** From the Kvm at creation, so the VM works on after its Kvm is closed. */
    private final int vcpuMmapSize;
    private final List<Vcpu> vcpus = new ArrayList<>();
    /** Slots by guest-physical range, for overlap checks and guest-physical access. */
    private final RangeMap<Long, MemorySlot> slotsByAddress = TreeRangeMap.create();
    private final Map<Integer, MemorySlot> slotsById = new TreeMap<>();
    private boolean irqchip;
    private boolean pit;

    Vm(Kvm kvm, OwnedFd fd) {
        this.kvm = kvm;
        this.fd = fd;
        this.maxSlots = kvm.memslots();
        this.xsaveSize = kvm.xsaveSize();
        this.vcpuMmapSize = kvm.vcpuMmapSize();
    }

    /** The {@link Kvm} that created it (which may have been closed since). */
    public Kvm kvm() {
        ensureOpen();
        return kvm;
    }

    /**
     * The VM's file descriptor, for callers that issue their own ioctls. The number is the
     * caller's to guard: after {@link #close()} it may name another file.
     */
    public int fd() {
        return fd.get();
    }

    private void ensureOpen() {
        fd.get(); // "VM is closed"
    }

    /** {@code KVM_CHECK_EXTENSION} on the VM fd, where some capabilities answer per VM. */
    public int checkExtension(Capability cap) {
        return KvmException.check(fd.call(Shim::checkExtension, cap.number()), "KVM_CHECK_EXTENSION");
    }

    // ---- vCPUs ----

    /** {@code KVM_CREATE_VCPU} with {@code id}, mapping its {@code kvm_run} page. */
    public synchronized Vcpu createVcpu(int id) {
        int raw = fd.call(Shim::createVcpu, id);
        if (raw < 0) {
            throw new KvmException("KVM_CREATE_VCPU", -raw, -raw == 17 ? "vCPU id " + id + " already exists in this VM"
                    : -raw == 22 ? "vCPU id " + id + " is out of range" + maxVcpusHint() : null);
        }
        Vcpu vcpu = new Vcpu(this, id, new OwnedFd(raw, "vCPU " + id), vcpuMmapSize, xsaveSize);
        vcpus.add(vcpu);
        return vcpu;
    }

    private String maxVcpusHint() {
        try {
            return " (max vCPUs " + kvm.maxVcpus() + ")";
        } catch (IllegalStateException closedKvm) {
            return "";
        }
    }

    /** The vCPUs created and not yet closed. */
    public synchronized List<Vcpu> vcpus() {
        ensureOpen();
        vcpus.removeIf(Vcpu::isClosed);
        return List.copyOf(vcpus);
    }

    // ---- memory slots ----

    /** Maps all of {@code memory} at guest-physical {@code guestAddress}, in the lowest free slot. */
    public MemorySlot mapMemory(long guestAddress, GuestMemory memory) {
        return mapMemory(guestAddress, memory, 0);
    }

    /** As {@link #mapMemory(long, GuestMemory)} with {@link MemorySlot} flags. */
    public MemorySlot mapMemory(long guestAddress, GuestMemory memory, int flags) {
        ensureOpen();
        return mapMemory(guestAddress, memory, 0, memory.size(), flags);
    }

    /**
     * {@code KVM_SET_USER_MEMORY_REGION}: maps {@code size} bytes of {@code memory} from
     * {@code memoryOffset} at {@code guestAddress}.
     *
     * @throws IllegalArgumentException for unaligned values, ranges outside {@code memory}, or a
     *     range that overlaps an existing slot (the message names it)
     */
    public synchronized MemorySlot mapMemory(long guestAddress, GuestMemory memory, long memoryOffset, long size, int flags) {
        ensureOpen();
        Objects.requireNonNull(memory, "memory");
        checkAligned("guest address", guestAddress);
        checkAligned("memory offset", memoryOffset);
        checkAligned("size", size);
        if (size <= 0 || memoryOffset < 0 || memoryOffset > memory.size() - size) {
            throw new IllegalArgumentException(String.format(
                    "slot range [0x%x, +0x%x) is outside the %d bytes of %s", memoryOffset, size, memory.size(), memory));
        }
        if (guestAddress < 0 || guestAddress + size < guestAddress) {
            throw new IllegalArgumentException(String.format("guest address 0x%x + 0x%x overflows", guestAddress, size));
        }
        MemorySlot overlap = overlapping(guestAddress, size);
        if (overlap != null) {
            throw new IllegalArgumentException(String.format(
                    "guest-physical range [0x%x, 0x%x) overlaps %s", guestAddress, guestAddress + size, overlap));
        }
        int id = freeSlotId();
        // Pinned before KVM sees the address: from here until the slot is gone the memory cannot
        // be released, whoever closes it.
        long host = memory.pin();
        try {
            int rc = setRegion(id, flags, guestAddress, size, host + memoryOffset);
            KvmException.check(rc, "KVM_SET_USER_MEMORY_REGION");
        } catch (RuntimeException e) {
            memory.unpin();
            throw e;
        }
        MemorySlot slot = new MemorySlot(id, guestAddress, size, memory, memoryOffset, flags);
        slotsByAddress.put(guestRange(slot), slot);
        slotsById.put(id, slot);
        return slot;
    }

    /** {@code KVM_SET_USER_MEMORY_REGION} with the descriptor held for the call. */
    private int setRegion(int id, int flags, long guestAddress, long size, long hostAddress) {
        int vm = fd.acquire();
        try {
            return Shim.setUserMemoryRegion(vm, id, flags, guestAddress, size, hostAddress);
        } finally {
            fd.release();
        }
    }

    /** Removes a slot: its guest-physical range becomes unbacked (MMIO) again. */
    public synchronized void unmapMemory(MemorySlot slot) {
        ensureOpen();
        MemorySlot known = requireSlot(slot);
        KvmException.check(setRegion(known.id(), 0, known.guestAddress(), 0, 0), "KVM_SET_USER_MEMORY_REGION");
        forget(known);
    }

    /** Moves a slot to a new guest-physical address (same memory, same size), keeping its id. */
    public synchronized MemorySlot moveMemory(MemorySlot slot, long newGuestAddress) {
        ensureOpen();
        MemorySlot known = requireSlot(slot);
        checkAligned("guest address", newGuestAddress);
        if (newGuestAddress < 0 || newGuestAddress + known.size() < newGuestAddress) {
            throw new IllegalArgumentException(String.format("guest address 0x%x + 0x%x overflows", newGuestAddress, known.size()));
        }
        slotsByAddress.remove(guestRange(known));
        MemorySlot overlap = overlapping(newGuestAddress, known.size());
        if (overlap != null) {
            slotsByAddress.put(guestRange(known), known);
            throw new IllegalArgumentException(String.format("cannot move %s to 0x%x: overlaps %s", known, newGuestAddress, overlap));
        }
        int rc = setRegion(known.id(), known.flags(), newGuestAddress, known.size(),
                known.memory().pinnedAddress() + known.memoryOffset());
        if (rc < 0) {
            slotsByAddress.put(guestRange(known), known);
            throw new KvmException("KVM_SET_USER_MEMORY_REGION", -rc);
        }
        MemorySlot moved = new MemorySlot(known.id(), newGuestAddress, known.size(), known.memory(), known.memoryOffset(), known.flags());
        slotsByAddress.put(guestRange(moved), moved);
        slotsById.put(moved.id(), moved);
        return moved;
    }

    /** The current slots, by guest address. */
    public synchronized List<MemorySlot> memorySlots() {
        ensureOpen();
        return List.copyOf(slotsByAddress.asMapOfRanges().values());
    }

    /** The slot holding {@code [gpa, gpa+length)}, or {@link IllegalArgumentException}. */
    public synchronized MemorySlot slotFor(long gpa, long length) {
        ensureOpen();
        MemorySlot slot = slotsByAddress.get(gpa);
        if (slot == null || !slot.contains(gpa, length)) {
            throw new IllegalArgumentException(String.format(
                    "guest-physical range [0x%x, +0x%x) is not inside one memory slot of this VM", gpa, length));
        }
        return slot;
    }

    /** Writes {@code data} at guest-physical {@code gpa} (inside one slot). */
    public void write(long gpa, byte[] data) {
        MemorySlot slot = slotFor(gpa, data.length);
        slot.memory().write(slot.memoryOffset() + gpa - slot.guestAddress(), data);
    }

    /** Reads {@code length} bytes at guest-physical {@code gpa} (inside one slot). */
    public byte[] read(long gpa, int length) {
        MemorySlot slot = slotFor(gpa, length);
        return slot.memory().read(slot.memoryOffset() + gpa - slot.guestAddress(), length);
    }

    /**
     * {@code KVM_GET_DIRTY_LOG}: the pages of a {@link MemorySlot#LOG_DIRTY_PAGES} slot written
     * since the last call (bit i = page i of the slot); fetching clears the log.
     */
    public BitSet dirtyLog(MemorySlot slot) {
        ensureOpen();
        MemorySlot known = requireSlot(slot);
        if ((known.flags() & MemorySlot.LOG_DIRTY_PAGES) == 0) {
            throw new IllegalArgumentException(known + " was not mapped with MemorySlot.LOG_DIRTY_PAGES");
        }
        long pages = known.size() / GuestMemory.PAGE_SIZE;
        int words = (int) ((pages + 63) / 64);
        ByteBuffer bitmap = Memory.allocate(words * 8);
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.getDirtyLog(vm, known.id(), Memory.addressOf(bitmap)), "KVM_GET_DIRTY_LOG");
        } finally {
            fd.release();
        }
        return BitSet.valueOf(bitmap);
    }

    /** A slot overlapping {@code [gpa, gpa+size)}, or null. */
    private MemorySlot overlapping(long gpa, long size) {
        return slotsByAddress.subRangeMap(Range.closedOpen(gpa, gpa + size)).asMapOfRanges().values().stream()
                .findFirst().orElse(null);
    }

    private static Range<Long> guestRange(MemorySlot slot) {
        return Range.closedOpen(slot.guestAddress(), slot.guestEnd());
    }

    private int freeSlotId() {
        for (int id = 0; id < maxSlots; id++) {
            if (!slotsById.containsKey(id)) {
                return id;
            }
        }
        throw new IllegalStateException("all " + maxSlots + " memory slots of this VM are in use");
    }

    private synchronized MemorySlot requireSlot(MemorySlot slot) {
        MemorySlot known = slotsById.get(slot.id());
        if (known == null || !known.equals(slot)) {
            throw new IllegalArgumentException(slot + " is not a current slot of this VM");
        }
        return known;
    }

    private void forget(MemorySlot slot) {
        slotsByAddress.remove(guestRange(slot));
        slotsById.remove(slot.id());
        slot.memory().unpin();
    }

    private static void checkAligned(String what, long value) {
        if (value % GuestMemory.PAGE_SIZE != 0) {
            throw new IllegalArgumentException(String.format("%s 0x%x is not a multiple of 4 KiB", what, value));
        }
    }

    // ---- in-kernel devices and x86 setup ----

    /** {@code KVM_SET_TSS_ADDR}: three pages of guest-physical space KVM may use on Intel (outside RAM). */
    public void setTssAddress(long address) {
        KvmException.check(fd.call(Shim::setTssAddr, address), "KVM_SET_TSS_ADDR");
    }

    /** {@code KVM_SET_IDENTITY_MAP_ADDR}: one page KVM may use for real mode on Intel (outside RAM). */
    public void setIdentityMapAddress(long address) {
        KvmException.check(fd.call(Shim::setIdentityMapAddr, address), "KVM_SET_IDENTITY_MAP_ADDR");
    }

    /** {@code KVM_CREATE_IRQCHIP}: in-kernel PIC, IOAPIC and local APICs. Call before creating vCPUs. */
    public synchronized void createIrqchip() {
        KvmException.check(fd.call((vm, unused) -> Shim.createIrqchip(vm), 0), "KVM_CREATE_IRQCHIP");
        irqchip = true;
    }

    /** Whether {@link #createIrqchip()} was called. */
    public synchronized boolean hasIrqchip() {
        ensureOpen();
        return irqchip;
    }

    /** {@code KVM_CREATE_PIT2} with a dummy speaker port. Needs {@link #createIrqchip()} first. */
    public synchronized void createPit() {
        KvmException.check(fd.call((vm, flags) -> Shim.createPit2(vm, (int) flags), PIT_SPEAKER_DUMMY), "KVM_CREATE_PIT2");
        pit = true;
    }

    /** Whether {@link #createPit()} was called. */
    public synchronized boolean hasPit() {
        ensureOpen();
        return pit;
    }

    /** {@code KVM_IRQ_LINE}: raises or lowers an interrupt line of the in-kernel irqchip. */
    public void irqLine(int irq, boolean high) {
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.irqLine(vm, irq, high ? 1 : 0), "KVM_IRQ_LINE");
        } finally {
            fd.release();
        }
    }

    /** {@code KVM_GET_IRQCHIP} into {@code chip} (whose chip id selects PIC master, slave or IOAPIC). */
    public Irqchip getIrqchip(Irqchip chip) {
        struct(Shim::getIrqchip, chip, "KVM_GET_IRQCHIP");
        return chip;
    }

    /** {@code KVM_SET_IRQCHIP} from {@code chip}. */
    public void setIrqchip(Irqchip chip) {
        struct(Shim::setIrqchip, chip, "KVM_SET_IRQCHIP");
    }

    /** {@code KVM_GET_PIT2} into {@code state}. */
    public PitState getPit(PitState state) {
        struct(Shim::getPit2, state, "KVM_GET_PIT2");
        return state;
    }

    /** {@code KVM_SET_PIT2} from {@code state}. */
    public void setPit(PitState state) {
        struct(Shim::setPit2, state, "KVM_SET_PIT2");
    }

    /** {@code KVM_GET_CLOCK} into {@code clock}. */
    public ClockData getClock(ClockData clock) {
        struct(Shim::getClock, clock, "KVM_GET_CLOCK");
        return clock;
    }

    /** {@code KVM_SET_CLOCK} from {@code clock}. */
    public void setClock(ClockData clock) {
        struct(Shim::setClock, clock, "KVM_SET_CLOCK");
    }

    /** {@code KVM_ENABLE_CAP} on the VM with the first two argument words. */
    public void enableCap(Capability cap, long arg0, long arg1) {
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.enableCap(vm, cap.number(), arg0, arg1), "KVM_ENABLE_CAP(" + cap.kernelName() + ")");
        } finally {
            fd.release();
        }
    }

    // ---- eventfd wiring ----

    /**
     * {@code KVM_IOEVENTFD}: a guest write of {@code length} bytes (1, 2, 4 or 8) to {@code address}
     * signals {@code event} inside the kernel, without an exit to user space.
     */
    public void registerIoEvent(EventFd event, IoSpace space, long address, int length) {
        ioEvent(event, space, address, length, 0, false, false);
    }

    /** As {@link #registerIoEvent(EventFd, IoSpace, long, int)}, only for writes of {@code value}. */
    public void registerIoEvent(EventFd event, IoSpace space, long address, int length, long value) {
        ioEvent(event, space, address, length, value, true, false);
    }

    /** Undoes {@link #registerIoEvent(EventFd, IoSpace, long, int)}. */
    public void unregisterIoEvent(EventFd event, IoSpace space, long address, int length) {
        ioEvent(event, space, address, length, 0, false, true);
    }

    /** Undoes {@link #registerIoEvent(EventFd, IoSpace, long, int, long)}. */
    public void unregisterIoEvent(EventFd event, IoSpace space, long address, int length, long value) {
        ioEvent(event, space, address, length, value, true, true);
    }

    private void ioEvent(EventFd event, IoSpace space, long address, int length, long value, boolean match, boolean deassign) {
        ensureOpen();
        if (length != 1 && length != 2 && length != 4 && length != 8) {
            throw new IllegalArgumentException("ioeventfd length must be 1, 2, 4 or 8, got " + length);
        }
        int flags = (space == IoSpace.PIO ? IOEVENTFD_PIO : 0) | (match ? IOEVENTFD_DATAMATCH : 0)
                | (deassign ? IOEVENTFD_DEASSIGN : 0);
        int vm = fd.acquire();
        try {
            int efd = event.handle().acquire();
            try {
                KvmException.check(Shim.ioeventfd(vm, address, length, efd, flags, value), "KVM_IOEVENTFD");
            } finally {
                event.handle().release();
            }
        } finally {
            fd.release();
        }
    }

    /** {@code KVM_IRQFD}: signalling {@code event} raises interrupt {@code gsi} in the in-kernel irqchip. */
    public void registerIrqFd(EventFd event, int gsi) {
        irqFd(event, gsi, 0);
    }

    /** Undoes {@link #registerIrqFd(EventFd, int)}. */
    public void unregisterIrqFd(EventFd event, int gsi) {
        irqFd(event, gsi, IRQFD_DEASSIGN);
    }

    private void irqFd(EventFd event, int gsi, int flags) {
        int vm = fd.acquire();
        try {
            int efd = event.handle().acquire();
            try {
                KvmException.check(Shim.irqfd(vm, efd, gsi, flags, 0), "KVM_IRQFD");
            } finally {
                event.handle().release();
            }
        } finally {
            fd.release();
        }
    }

    /** The ioctl {@code op} with {@code struct}'s address; the descriptor held open and the struct kept reachable for the call. */
    private void struct(OwnedFd.Call op, KvmStruct struct, String name) {
        try {
            KvmException.check(fd.call(op, struct.address()), name);
        } finally {
            Reference.reachabilityFence(struct);
        }
    }

    // ---- lifetime ----

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return fd.isClosed();
    }

    /**
     * Closes the vCPUs (stopping and waiting for a run in progress), closes the VM fd, then drops
     * the memory slots' pins on their {@link GuestMemory} (releasing memory whose owner closed it
     * already). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (fd.isClosed()) {
            return;
        }
        for (Vcpu vcpu : vcpus) {
            vcpu.close();
        }
        vcpus.clear();
        fd.close();
        for (MemorySlot slot : List.copyOf(slotsById.values())) {
            forget(slot);
        }
    }

    @Override
    public String toString() {
        return "Vm[" + fd + ", " + slotsById.size() + " slots, " + vcpus.size() + " vCPUs]";
    }
}
