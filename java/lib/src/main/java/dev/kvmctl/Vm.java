package dev.kvmctl;

import dev.kvmctl.internal.OwnedFd;
import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.LibC;
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
 * any order: memory closed while a VM maps it stays mapped until the VM lets go of it. The
 * example opens them in the order the {@linkplain dev.kvmctl package documentation} recommends.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      GuestMemory ram = GuestMemory.anonymous(1 << 20);
 *      Vm vm = kvm.createVm()) {
 *     vm.mapMemory(0, ram);
 *     ram.write(0x1000, new byte[] {(byte) 0xf4});                // hlt
 *     Vcpu vcpu = vm.createVcpu(0);                                 // closed with vm
 *     vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)));
 *     vcpu.setRegs(vcpu.getRegs().rip(0x1000).rflags(2));
 *     System.out.println(vcpu.run());                               // hlt
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
    private static final int IRQFD_RESAMPLE = Layout.intValue("KVM_IRQFD_FLAG_RESAMPLE");
    private static final int CREATE_DEVICE_TEST = Layout.intValue("KVM_CREATE_DEVICE_TEST");
    private static final int MEM_GUEST_MEMFD = Layout.intValue("KVM_MEM_GUEST_MEMFD");
    private static final int CAP_DIRTY_LOG_RING = Layout.intValue("KVM_CAP_DIRTY_LOG_RING");
    /** KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE, bit 0 of KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2's argument. */
    private static final long MANUAL_PROTECT_ENABLE = 1;

    /** Address space of an ioeventfd. */
    public enum IoSpace {
        /** Port I/O: the address is a port number, 0 to 0xffff. */
        PIO,
        /** Memory-mapped I/O: the address is guest-physical, outside every memory slot. */
        MMIO
    }

    private final Kvm kvm;
    private final OwnedFd fd;
    private final int maxSlots;
    private final int xsaveSize;
    /** From the Kvm at creation, so the VM works on after its Kvm is closed. */
    private final int vcpuMmapSize;
    private final List<Vcpu> vcpus = new ArrayList<>();
    /** Slots by guest-physical range, for overlap checks and guest-physical access. */
    /** The slots by guest address, which never overlap: a slot holds an address if it is the floor entry's and ends above it. */
    private final TreeMap<Long, MemorySlot> slotsByAddress = new TreeMap<>();
    private final Map<Integer, MemorySlot> slotsById = new TreeMap<>();
    private boolean irqchip;
    private boolean pit;
    /** Bytes of each vCPU's dirty ring once {@link #enableDirtyRing} succeeded; 0 before. */
    private volatile int dirtyRingBytes;
    /** Whether KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 was last enabled (not disabled) through {@link #enableCap}. */
    private volatile boolean manualDirtyLogProtect;

    Vm(Kvm kvm, OwnedFd fd) {
        this.kvm = kvm;
        this.fd = fd;
        this.maxSlots = kvm.memslots();
        this.xsaveSize = kvm.xsaveSize();
        this.vcpuMmapSize = kvm.vcpuMmapSize();
    }

    /**
     * {@return the {@link Kvm} that created it (which may have been closed since)}
     *
     * @throws IllegalStateException if this VM is closed
     */
    public Kvm kvm() {
        ensureOpen();
        return kvm;
    }

    /**
     * The VM's file descriptor, for callers that issue their own ioctls. The number is the
     * caller's to guard: after {@link #close()} it may name another file.
     *
     * @return the descriptor, owned by this VM (do not close it)
     * @throws IllegalStateException if this VM is closed
     */
    public int fd() {
        return fd.get();
    }

    private void ensureOpen() {
        fd.get(); // "VM is closed"
    }

    /**
     * Asks this VM whether it has a capability. Issues {@code KVM_CHECK_EXTENSION} on the VM
     * descriptor, where some capabilities (such as {@link Capability#NR_MEMSLOTS} or
     * {@link Capability#MAX_VCPUS}) answer for this VM rather than the system.
     *
     * @param cap the capability
     * @return 0 when absent; otherwise 1, or a capability-specific number
     * @throws IllegalStateException if this VM is closed
     */
    public int checkExtension(Capability cap) {
        return KvmException.check(fd.call(Ioctl.CHECK_EXTENSION, cap.number()), "KVM_CHECK_EXTENSION");
    }

    /**
     * As {@link #checkExtension(Capability)}, for a capability by its raw {@code KVM_CAP_*} number,
     * including those the {@link Capability} enum does not list. Issues {@code KVM_CHECK_EXTENSION}
     * on the VM descriptor.
     *
     * @param cap the capability number, from the kernel headers
     * @return 0 when absent (also for numbers this kernel does not know); otherwise 1, or a
     *     capability-specific number
     * @throws IllegalStateException if this VM is closed
     */
    public int checkExtension(int cap) {
        return KvmException.check(fd.call(Ioctl.CHECK_EXTENSION, cap), "KVM_CHECK_EXTENSION(" + cap + ")");
    }

    // ---- vCPUs ----

    /**
     * Creates a vCPU and maps its {@code kvm_run} page. Issues {@code KVM_CREATE_VCPU}. With an
     * in-kernel irqchip, call {@link #createIrqchip()} first: KVM refuses it once vCPUs exist.
     *
     * @param id the vCPU id, which is also its initial APIC id: from 0, below
     *     {@link Capability#MAX_VCPU_ID}'s answer
     * @return the new vCPU; closing this VM closes it
     * @throws KvmException {@code EEXIST} if this VM already has a vCPU {@code id}, {@code EINVAL}
     *     if {@code id} is out of range (both messages say so); {@code mmap(kvm_run)} if its page
     *     cannot be mapped
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized Vcpu createVcpu(int id) {
        int raw = fd.call(Ioctl.CREATE_VCPU, id);
        if (raw < 0) {
            throw new KvmException("KVM_CREATE_VCPU", -raw, -raw == LibC.EEXIST ? "vCPU id " + id + " already exists in this VM"
                    : -raw == LibC.EINVAL ? "vCPU id " + id + " is out of range" + maxVcpusHint() : null);
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

    /**
     * {@return the vCPUs created and not yet closed, in creation order; an unmodifiable copy}
     *
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized List<Vcpu> vcpus() {
        ensureOpen();
        vcpus.removeIf(Vcpu::isClosed);
        return List.copyOf(vcpus);
    }

    // ---- memory slots ----

    /**
     * Maps all of {@code memory} at guest-physical {@code guestAddress}, in the lowest free slot,
     * as {@link #mapMemory(long, GuestMemory, long, long, int)} does.
     *
     * @param guestAddress the guest-physical address of its first byte, a multiple of 4 KiB
     * @param memory the memory; it stays its owner's to close
     * @return the new slot
     * @throws IllegalArgumentException if {@code guestAddress} is unaligned or the range overlaps
     *     a slot of this VM
     * @throws IllegalStateException if this VM or {@code memory} is closed, or every slot is in use
     * @throws KvmException if KVM refuses the region
     */
    public MemorySlot mapMemory(long guestAddress, GuestMemory memory) {
        return mapMemory(guestAddress, memory, 0);
    }

    /**
     * As {@link #mapMemory(long, GuestMemory)}, with {@link MemorySlot} flags.
     *
     * @param guestAddress the guest-physical address of its first byte, a multiple of 4 KiB
     * @param memory the memory; it stays its owner's to close
     * @param flags 0, or {@link MemorySlot#LOG_DIRTY_PAGES} and {@link MemorySlot#READONLY} or'ed
     * @return the new slot
     * @throws IllegalArgumentException if {@code guestAddress} is unaligned or the range overlaps
     *     a slot of this VM
     * @throws IllegalStateException if this VM or {@code memory} is closed, or every slot is in use
     * @throws KvmException {@code EINVAL} if KVM refuses the flags (read-only slots need
     *     {@link Capability#READONLY_MEM})
     */
    public MemorySlot mapMemory(long guestAddress, GuestMemory memory, int flags) {
        ensureOpen();
        return mapMemory(guestAddress, memory, 0, memory.size(), flags);
    }

    /**
     * Maps {@code size} bytes of {@code memory} from {@code memoryOffset} at {@code guestAddress},
     * in the lowest free slot. Issues {@code KVM_SET_USER_MEMORY_REGION}. The slot holds the
     * memory: closing it while the slot exists is safe, and releases it when the slot goes.
     *
     * @param guestAddress the guest-physical address of the slot's first byte, a multiple of 4 KiB
     * @param memory the memory behind the slot; it stays its owner's to close
     * @param memoryOffset where in {@code memory} the slot starts, a multiple of 4 KiB
     * @param size the slot's length in bytes, a positive multiple of 4 KiB
     * @param flags 0, or {@link MemorySlot#LOG_DIRTY_PAGES} and {@link MemorySlot#READONLY} or'ed
     * @return the new slot
     * @throws IllegalArgumentException for unaligned values, ranges outside {@code memory}, or a
     *     range that overlaps an existing slot (the message names it)
     * @throws IllegalStateException if this VM or {@code memory} is closed, or all
     *     {@link Kvm#memslots()} slots are in use
     * @throws KvmException {@code EINVAL} if KVM refuses the flags (read-only slots need
     *     {@link Capability#READONLY_MEM})
     */
    public synchronized MemorySlot mapMemory(long guestAddress, GuestMemory memory, long memoryOffset, long size, int flags) {
        ensureOpen();
        return mapMemory(guestAddress, memory, memoryOffset, size, flags,
                (id, host) -> setRegion(id, flags, guestAddress, size, host + memoryOffset), "KVM_SET_USER_MEMORY_REGION");
    }

    /** Sets slot {@code id} to the memory pinned at {@code host}; returns the shim's result. */
    @FunctionalInterface
    private interface RegionSetter {
        int set(int id, long host);
    }

    private MemorySlot mapMemory(long guestAddress, GuestMemory memory, long memoryOffset, long size, int flags,
            RegionSetter setter, String op) {
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
            KvmException.check(setter.set(id, host), op);
        } catch (RuntimeException e) {
            memory.unpin();
            throw e;
        }
        MemorySlot slot = new MemorySlot(id, guestAddress, size, memory, memoryOffset, flags);
        slotsByAddress.put(slot.guestAddress(), slot);
        slotsById.put(id, slot);
        return slot;
    }

    /**
     * As {@link #mapMemory(long, GuestMemory, long, long, int)}, with the slot's private memory in
     * a {@link GuestMemfd}. Issues {@code KVM_SET_USER_MEMORY_REGION2} with
     * {@code KVM_MEM_GUEST_MEMFD}; which half the guest sees for a page is chosen by
     * {@link #setMemoryAttributes}. Such a slot can be unmapped but not moved.
     *
     * @param guestAddress the guest-physical address of the slot's first byte, a multiple of 4 KiB
     * @param memory the shared memory behind the slot; it stays its owner's to close
     * @param memoryOffset where in {@code memory} the slot starts, a multiple of 4 KiB
     * @param size the slot's length in bytes, a positive multiple of 4 KiB
     * @param flags 0, or {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param guestMemfd the private memory, made by {@link #createGuestMemfd} of this VM
     * @param guestMemfdOffset where in {@code guestMemfd} the slot starts, a multiple of 4 KiB
     * @return the new slot
     * @throws IllegalArgumentException as the plain form does, or for an unaligned
     *     {@code guestMemfdOffset}
     * @throws KvmException {@code EINVAL} when this VM's type has no private memory (the default
     *     type on most kernels)
     * @throws IllegalStateException if this VM, {@code memory} or {@code guestMemfd} is closed
     */
    public synchronized MemorySlot mapMemory(long guestAddress, GuestMemory memory, long memoryOffset, long size, int flags,
            GuestMemfd guestMemfd, long guestMemfdOffset) {
        ensureOpen();
        guestMemfd.fd();
        checkAligned("guest_memfd offset", guestMemfdOffset);
        return mapMemory(guestAddress, memory, memoryOffset, size, flags | MEM_GUEST_MEMFD,
                (id, host) -> setRegion2(id, flags | MEM_GUEST_MEMFD, guestAddress, size, host + memoryOffset,
                        guestMemfd, guestMemfdOffset), "KVM_SET_USER_MEMORY_REGION2");
    }

    private int setRegion2(int id, int flags, long guestAddress, long size, long hostAddress, GuestMemfd gmem, long gmemOffset) {
        int vm = fd.acquire();
        try {
            int g = gmem.handle().acquire();
            try {
                return Shim.setUserMemoryRegion2(vm, id, flags, guestAddress, size, hostAddress, gmemOffset, g);
            } finally {
                gmem.handle().release();
            }
        } finally {
            fd.release();
        }
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

    /**
     * Removes a slot: its guest-physical range becomes unbacked (MMIO) again, and its memory is
     * released if its owner closed it meanwhile. Issues {@code KVM_SET_USER_MEMORY_REGION} with
     * size 0.
     *
     * @param slot a current slot of this VM, as the last map or move returned it
     * @throws IllegalArgumentException if {@code slot} is not a current slot of this VM (another
     *     VM's, removed, or the old object of a moved slot)
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized void unmapMemory(MemorySlot slot) {
        ensureOpen();
        MemorySlot known = requireSlot(slot);
        KvmException.check(setRegion(known.id(), 0, known.guestAddress(), 0, 0), "KVM_SET_USER_MEMORY_REGION");
        forget(known);
    }

    /**
     * Moves a slot to a new guest-physical address (same memory, same size), keeping its id.
     * Issues {@code KVM_SET_USER_MEMORY_REGION}.
     *
     * @param slot a current slot of this VM, as the last map or move returned it
     * @param newGuestAddress the new guest-physical address, a multiple of 4 KiB
     * @return the slot at its new address; {@code slot} is no longer current
     * @throws IllegalArgumentException if {@code slot} is not current, or the new address is
     *     unaligned, overflows or overlaps another slot; the slot then stays where it was
     * @throws KvmException if KVM refuses the move; the slot then stays where it was
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized MemorySlot moveMemory(MemorySlot slot, long newGuestAddress) {
        ensureOpen();
        MemorySlot known = requireSlot(slot);
        checkAligned("guest address", newGuestAddress);
        if (newGuestAddress < 0 || newGuestAddress + known.size() < newGuestAddress) {
            throw new IllegalArgumentException(String.format("guest address 0x%x + 0x%x overflows", newGuestAddress, known.size()));
        }
        slotsByAddress.remove(known.guestAddress());
        MemorySlot overlap = overlapping(newGuestAddress, known.size());
        if (overlap != null) {
            slotsByAddress.put(known.guestAddress(), known);
            throw new IllegalArgumentException(String.format("cannot move %s to 0x%x: overlaps %s", known, newGuestAddress, overlap));
        }
        int rc = setRegion(known.id(), known.flags(), newGuestAddress, known.size(),
                known.memory().pinnedAddress() + known.memoryOffset());
        if (rc < 0) {
            slotsByAddress.put(known.guestAddress(), known);
            throw new KvmException("KVM_SET_USER_MEMORY_REGION", -rc);
        }
        MemorySlot moved = new MemorySlot(known.id(), newGuestAddress, known.size(), known.memory(), known.memoryOffset(), known.flags());
        slotsByAddress.put(moved.guestAddress(), moved);
        slotsById.put(moved.id(), moved);
        return moved;
    }

    /**
     * {@return the current slots, by guest address; an unmodifiable copy}
     *
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized List<MemorySlot> memorySlots() {
        ensureOpen();
        return List.copyOf(slotsByAddress.values());
    }

    /**
     * {@return the slot that holds all of {@code [gpa, gpa+length)}}
     *
     * @param gpa the guest-physical address of the range's first byte
     * @param length the range's length in bytes
     * @throws IllegalArgumentException if no one slot holds the whole range
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized MemorySlot slotFor(long gpa, long length) {
        ensureOpen();
        Map.Entry<Long, MemorySlot> below = slotsByAddress.floorEntry(gpa);
        MemorySlot slot = below == null ? null : below.getValue();
        if (slot == null || !slot.contains(gpa, length)) {
            throw new IllegalArgumentException(String.format(
                    "guest-physical range [0x%x, +0x%x) is not inside one memory slot of this VM", gpa, length));
        }
        return slot;
    }

    /**
     * Writes {@code data} at guest-physical {@code gpa}, into the memory of the slot that holds it.
     *
     * @param gpa the guest-physical address of the first byte
     * @param data the bytes to write
     * @throws IllegalArgumentException if no one slot holds the whole range
     * @throws IllegalStateException if this VM, or the slot's memory, is closed
     */
    public void write(long gpa, byte[] data) {
        MemorySlot slot = slotFor(gpa, data.length);
        slot.memory().write(slot.memoryOffset() + gpa - slot.guestAddress(), data);
    }

    /**
     * Reads {@code length} bytes at guest-physical {@code gpa}, from the memory of the slot that
     * holds them.
     *
     * @param gpa the guest-physical address of the first byte
     * @param length how many bytes
     * @return a new array of the bytes
     * @throws IllegalArgumentException if no one slot holds the whole range
     * @throws IllegalStateException if this VM, or the slot's memory, is closed
     */
    public byte[] read(long gpa, int length) {
        MemorySlot slot = slotFor(gpa, length);
        return slot.memory().read(slot.memoryOffset() + gpa - slot.guestAddress(), length);
    }

    /**
     * Fetches and clears the dirty log of a {@link MemorySlot#LOG_DIRTY_PAGES} slot: the pages
     * written since the last call, or since the slot was mapped. Issues {@code KVM_GET_DIRTY_LOG}.
     * With {@linkplain #manualDirtyLogProtect() manual protection} on, it fetches only: the bits
     * stay set, and the pages writable, until {@link #clearDirtyLog} clears them.
     *
     * @param slot a current slot of this VM, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @return a new set: bit {@code i} is set if page {@code i} of the slot (4 KiB from its first
     *     byte) was written
     * @throws IllegalArgumentException if {@code slot} is not current or does not log dirty pages
     * @throws IllegalStateException if this VM is closed
     */
    public BitSet dirtyLog(MemorySlot slot) {
        ByteBuffer bitmap = Memory.allocate(slot.dirtyLogBytes());
        dirtyLog(slot, bitmap);
        return BitSet.valueOf(bitmap);
    }

    /**
     * Fetches and clears the dirty log of a {@link MemorySlot#LOG_DIRTY_PAGES} slot into a buffer
     * the caller owns and reuses, allocating nothing: for loops that fetch the log again and
     * again (a checkpoint reset). Issues {@code KVM_GET_DIRTY_LOG}; with
     * {@linkplain #manualDirtyLogProtect() manual protection} on, it fetches without clearing.
     *
     * @param slot a current slot of this VM, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param bitmap a direct buffer of at least {@link MemorySlot#dirtyLogBytes()} bytes from its
     *     position 0 (a buffer from {@code ByteBuffer.allocateDirect}): KVM writes one bit per
     *     page, little-endian 64-bit words, bit {@code i} for page {@code i} of the slot
     * @throws IllegalArgumentException if {@code slot} is not current or does not log dirty
     *     pages, or {@code bitmap} is not direct or too small; nothing is fetched
     * @throws IllegalStateException if this VM is closed
     */
    public void dirtyLog(MemorySlot slot, ByteBuffer bitmap) {
        ensureOpen();
        MemorySlot known = requireLoggingSlot(slot);
        if (!bitmap.isDirect() || bitmap.capacity() < known.dirtyLogBytes()) {
            throw new IllegalArgumentException("the dirty log of " + known + " needs a direct buffer of "
                    + known.dirtyLogBytes() + " bytes, not " + bitmap);
        }
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.getDirtyLog(vm, known.id(), Memory.addressOf(bitmap)), "KVM_GET_DIRTY_LOG");
        } finally {
            fd.release();
            Reference.reachabilityFence(bitmap);
        }
    }

    /** A slot overlapping {@code [gpa, gpa+size)}, or null. */
    private MemorySlot overlapping(long gpa, long size) {
        Map.Entry<Long, MemorySlot> below = slotsByAddress.floorEntry(gpa);
        if (below != null && below.getValue().guestEnd() > gpa) {
            return below.getValue();
        }
        Map.Entry<Long, MemorySlot> above = slotsByAddress.ceilingEntry(gpa);
        return above != null && above.getKey() - gpa < size ? above.getValue() : null;
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
        slotsByAddress.remove(slot.guestAddress());
        slotsById.remove(slot.id());
        slot.memory().unpin();
    }

    private static void checkAligned(String what, long value) {
        if (value % GuestMemory.PAGE_SIZE != 0) {
            throw new IllegalArgumentException(String.format("%s 0x%x is not a multiple of 4 KiB", what, value));
        }
    }

    // ---- in-kernel devices and x86 setup ----

    /**
     * Gives KVM three pages of guest-physical space for the TSS it needs to run real mode on
     * Intel. Issues {@code KVM_SET_TSS_ADDR}.
     *
     * @param address the guest-physical address of the first page, outside every memory slot
     *     and MMIO range the guest uses
     * @throws IllegalStateException if this VM is closed
     */
    public void setTssAddress(long address) {
        KvmException.check(fd.call(Ioctl.SET_TSS_ADDR, address), "KVM_SET_TSS_ADDR");
    }

    /**
     * Gives KVM one page of guest-physical space for the identity page table it needs to run
     * real mode on Intel. Issues {@code KVM_SET_IDENTITY_MAP_ADDR}; call it before creating vCPUs.
     *
     * @param address the guest-physical address of the page, outside every memory slot and MMIO
     *     range the guest uses
     * @throws IllegalStateException if this VM is closed
     */
    public void setIdentityMapAddress(long address) {
        KvmException.check(fd.call(Ioctl.SET_IDENTITY_MAP_ADDR, address), "KVM_SET_IDENTITY_MAP_ADDR");
    }

    /**
     * Creates the in-kernel interrupt controllers: both PICs, the IOAPIC and a local APIC per
     * vCPU. Issues {@code KVM_CREATE_IRQCHIP}; call it before creating vCPUs.
     *
     * @throws KvmException {@code EEXIST} if this VM has one already, {@code EINVAL} once it has
     *     vCPUs
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized void createIrqchip() {
        KvmException.check(fd.call(Ioctl.CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
        irqchip = true;
    }

    /**
     * {@return whether {@link #createIrqchip()} succeeded on this VM}
     *
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized boolean hasIrqchip() {
        ensureOpen();
        return irqchip;
    }

    /**
     * Creates the in-kernel PIT (i8254), with a dummy PC speaker port. Issues
     * {@code KVM_CREATE_PIT2}; needs {@link #createIrqchip()} first.
     *
     * @throws KvmException {@code EEXIST} if this VM has one already, {@code ENOENT} without an
     *     in-kernel irqchip
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized void createPit() {
        KvmException.check(fd.call((vm, flags) -> Shim.createPit2(vm, (int) flags), PIT_SPEAKER_DUMMY), "KVM_CREATE_PIT2");
        pit = true;
    }

    /**
     * {@return whether {@link #createPit()} succeeded on this VM}
     *
     * @throws IllegalStateException if this VM is closed
     */
    public synchronized boolean hasPit() {
        ensureOpen();
        return pit;
    }

    /**
     * Raises or lowers an interrupt line of the in-kernel irqchip. Issues {@code KVM_IRQ_LINE}.
     *
     * @param irq the GSI: 0 to 15 reach the PICs and the IOAPIC, 16 to 23 the IOAPIC only
     * @param high true to raise the line, false to lower it (an edge is a raise then a lower)
     * @throws KvmException {@code ENXIO} without an in-kernel irqchip
     * @throws IllegalStateException if this VM is closed
     */
    public void irqLine(int irq, boolean high) {
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.irqLine(vm, irq, high ? 1 : 0), "KVM_IRQ_LINE");
        } finally {
            fd.release();
        }
    }

    /**
     * Reads the state of one in-kernel interrupt controller. Issues {@code KVM_GET_IRQCHIP}.
     *
     * @param chip the struct to fill, whose {@link Irqchip#chipId()} selects the master PIC, the
     *     slave PIC or the IOAPIC
     * @return {@code chip}
     * @throws KvmException {@code ENXIO} without an in-kernel irqchip
     * @throws IllegalStateException if this VM is closed
     */
    public Irqchip getIrqchip(Irqchip chip) {
        struct(Ioctl.GET_IRQCHIP, chip);
        return chip;
    }

    /**
     * Writes the state of one in-kernel interrupt controller. Issues {@code KVM_SET_IRQCHIP}.
     *
     * @param chip the state, whose {@link Irqchip#chipId()} selects the controller
     * @throws KvmException {@code ENXIO} without an in-kernel irqchip
     * @throws IllegalStateException if this VM is closed
     */
    public void setIrqchip(Irqchip chip) {
        struct(Ioctl.SET_IRQCHIP, chip);
    }

    /**
     * Reads the in-kernel PIT's state. Issues {@code KVM_GET_PIT2}.
     *
     * @param state the struct to fill
     * @return {@code state}
     * @throws KvmException {@code ENXIO} without an in-kernel PIT
     * @throws IllegalStateException if this VM is closed
     */
    public PitState getPit(PitState state) {
        struct(Ioctl.GET_PIT2, state);
        return state;
    }

    /**
     * Writes the in-kernel PIT's state. Issues {@code KVM_SET_PIT2}.
     *
     * @param state the state, as {@link #getPit} read it
     * @throws KvmException {@code ENXIO} without an in-kernel PIT
     * @throws IllegalStateException if this VM is closed
     */
    public void setPit(PitState state) {
        struct(Ioctl.SET_PIT2, state);
    }

    /**
     * Reads the guest's kvmclock. Issues {@code KVM_GET_CLOCK}.
     *
     * @param clock the struct to fill: the time in nanoseconds and flags describing the host
     * @return {@code clock}
     * @throws IllegalStateException if this VM is closed
     */
    public ClockData getClock(ClockData clock) {
        struct(Ioctl.GET_CLOCK, clock);
        return clock;
    }

    /**
     * Sets the guest's kvmclock. Issues {@code KVM_SET_CLOCK}.
     *
     * @param clock the time in nanoseconds; its flags 0, or flags this kernel accepts (the flags
     *     {@link #getClock} reports describe the host and may be refused)
     * @throws KvmException {@code EINVAL} for flags this kernel does not accept
     * @throws IllegalStateException if this VM is closed
     */
    public void setClock(ClockData clock) {
        struct(Ioctl.SET_CLOCK, clock);
    }

    /**
     * Turns on a capability that must be asked for, such as {@link Capability#SPLIT_IRQCHIP}.
     * Issues {@code KVM_ENABLE_CAP} on the VM.
     *
     * @param cap the capability
     * @param arg0 the first argument word ({@code args[0]}); its meaning depends on {@code cap}
     * @param arg1 the second argument word ({@code args[1]}); the other words are 0
     * @throws KvmException {@code EINVAL} if the capability cannot be enabled on a VM, or not now,
     *     or with these arguments (the message names the capability)
     * @throws IllegalStateException if this VM is closed
     */
    public void enableCap(Capability cap, long arg0, long arg1) {
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.enableCap(vm, cap.number(), arg0, arg1), "KVM_ENABLE_CAP(" + cap.kernelName() + ")");
        } finally {
            fd.release();
        }
        noteEnabled(cap.number(), arg0);
    }

    /**
     * As {@link #enableCap(Capability, long, long)}, for a capability by its raw {@code KVM_CAP_*}
     * number, including those the {@link Capability} enum does not list. Issues
     * {@code KVM_ENABLE_CAP} on the VM.
     *
     * @param cap the capability number, from the kernel headers
     * @param arg0 {@code args[0]}; its meaning depends on {@code cap}
     * @param arg1 {@code args[1]}; the other words are 0
     * @throws KvmException {@code EINVAL} if the capability cannot be enabled on a VM, or not now,
     *     or with these arguments
     * @throws IllegalStateException if this VM is closed
     */
    public void enableCap(int cap, long arg0, long arg1) {
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.enableCap(vm, cap, arg0, arg1), "KVM_ENABLE_CAP(" + cap + ")");
        } finally {
            fd.release();
        }
        noteEnabled(cap, arg0);
    }

    /** Remembers what a successful KVM_ENABLE_CAP changed that this VM's dirty-log calls depend on. */
    private void noteEnabled(int cap, long arg0) {
        if (cap == Capability.MANUAL_DIRTY_LOG_PROTECT2.number()) {
            manualDirtyLogProtect = (arg0 & MANUAL_PROTECT_ENABLE) != 0;
        }
    }

    /**
     * {@return whether this VM has manual dirty-log protection on: {@link Capability#MANUAL_DIRTY_LOG_PROTECT2}
     * enabled through {@link #enableCap} with {@code KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE} (bit 0 of
     * {@code arg0}) and not disabled since. Then {@link #dirtyLog} only reports pages, and only
     * {@link #clearDirtyLog} clears their bits and write-protects them again}
     *
     * @throws IllegalStateException if this VM is closed
     */
    public boolean manualDirtyLogProtect() {
        ensureOpen();
        return manualDirtyLogProtect;
    }

    // ---- issue 9: devices, interrupts routing, memory attributes, dirty tracking, MSR filter, stats ----

    /**
     * Creates an in-kernel device. Issues {@code KVM_CREATE_DEVICE}.
     *
     * @param type the device type, a {@code KVM_DEV_TYPE_*} number (on x86, {@code KVM_DEV_TYPE_VFIO})
     * @return the device, which the caller closes
     * @throws KvmException {@code ENODEV} for a type this kernel lacks, {@code EEXIST} for a second
     *     device of a type there may be only one of
     * @throws IllegalStateException if this VM is closed
     */
    public Device createDevice(int type) {
        int vm = fd.acquire();
        try {
            int raw = KvmException.check(Shim.createDevice(vm, type, 0), "KVM_CREATE_DEVICE(" + type + ")");
            return new Device(new OwnedFd(raw, "device of type " + type), type);
        } finally {
            fd.release();
        }
    }

    /**
     * Asks whether {@link #createDevice(int)} would make a device of this type, without making
     * one. Issues {@code KVM_CREATE_DEVICE} with {@code KVM_CREATE_DEVICE_TEST}.
     *
     * @param type the device type, a {@code KVM_DEV_TYPE_*} number
     * @return true if it would; false when the kernel answers {@code ENODEV}
     * @throws KvmException for any other error
     * @throws IllegalStateException if this VM is closed
     */
    public boolean canCreateDevice(int type) {
        int vm = fd.acquire();
        try {
            int rc = Shim.createDevice(vm, type, CREATE_DEVICE_TEST);
            if (rc == -LibC.ENODEV) {
                return false; // ENODEV: no such device type
            }
            KvmException.check(rc, "KVM_CREATE_DEVICE(" + type + ", KVM_CREATE_DEVICE_TEST)");
            return true;
        } finally {
            fd.release();
        }
    }

    /**
     * Replaces the VM's GSI routing table. Issues {@code KVM_SET_GSI_ROUTING}.
     *
     * @param routing the table; it replaces the default routing entirely
     * @throws KvmException {@code EINVAL} for an entry the kernel refuses (a GSI beyond
     *     {@link Capability#IRQ_ROUTING}'s answer, an unknown chip or pin); {@code ENXIO}-like
     *     errors without an in-kernel irqchip
     * @throws IllegalStateException if this VM is closed
     */
    public void setGsiRouting(GsiRouting routing) {
        ensureOpen();
        ByteBuffer table = routing.toStruct();
        try {
            KvmException.check(fd.call(Ioctl.SET_GSI_ROUTING, Memory.addressOf(table)), "KVM_SET_GSI_ROUTING");
        } finally {
            Reference.reachabilityFence(table);
        }
    }

    /**
     * Injects a message-signalled interrupt directly. Issues {@code KVM_SIGNAL_MSI}.
     *
     * @param address the MSI address (on x86, {@code 0xfee00000} plus the destination APIC id)
     * @param data the MSI data (the vector and delivery mode)
     * @return a positive number when delivered, 0 when the guest blocked it
     * @throws KvmException {@code EPERM} when no vCPU takes the message (no in-kernel irqchip, or no
     *     vCPU of that APIC id yet)
     * @throws IllegalStateException if this VM is closed
     */
    public int signalMsi(long address, int data) {
        int vm = fd.acquire();
        try {
            return KvmException.check(Shim.signalMsi(vm, (int) address, (int) (address >>> 32), data, 0, 0), "KVM_SIGNAL_MSI");
        } finally {
            fd.release();
        }
    }

    /**
     * Makes guest writes to a range batch in each vCPU's coalesced MMIO ring instead of exiting;
     * read them with {@link Vcpu#nextCoalescedIo(CoalescedIo)}. Reads of the range still exit.
     * Issues {@code KVM_REGISTER_COALESCED_MMIO} (with {@code pio} set for port I/O).
     *
     * @param space MMIO (needs {@link Capability#COALESCED_MMIO}) or port I/O
     *     ({@code KVM_CAP_COALESCED_PIO})
     * @param address the first guest-physical address, or port
     * @param size the range's length in bytes
     * @throws KvmException {@code ENOSPC} when the VM has no zone left
     * @throws IllegalStateException if this VM is closed
     */
    public void registerCoalescedIo(IoSpace space, long address, int size) {
        coalesced(space, address, size, true);
    }

    /**
     * Undoes {@link #registerCoalescedIo}: writes to the range exit again. Issues
     * {@code KVM_UNREGISTER_COALESCED_MMIO}.
     *
     * @param space as registered
     * @param address as registered
     * @param size as registered
     * @throws IllegalStateException if this VM is closed
     */
    public void unregisterCoalescedIo(IoSpace space, long address, int size) {
        coalesced(space, address, size, false);
    }

    private void coalesced(IoSpace space, long address, int size, boolean register) {
        int vm = fd.acquire();
        try {
            int pio = space == IoSpace.PIO ? 1 : 0;
            KvmException.check(register ? Shim.registerCoalescedMmio(vm, address, size, pio)
                    : Shim.unregisterCoalescedMmio(vm, address, size, pio),
                    register ? "KVM_REGISTER_COALESCED_MMIO" : "KVM_UNREGISTER_COALESCED_MMIO");
        } finally {
            fd.release();
        }
    }

    /**
     * Creates private guest memory that user space cannot map. Issues
     * {@code KVM_CREATE_GUEST_MEMFD}.
     *
     * @param size its size in bytes, a multiple of 4 KiB
     * @param flags 0, or {@code GUEST_MEMFD_FLAG_*} bits this kernel accepts
     * @return the new memory, which the caller closes
     * @throws KvmException {@code EINVAL} for a size or flags the kernel refuses, {@code ENOTTY} on
     *     kernels without guest_memfd
     * @throws IllegalStateException if this VM is closed
     */
    public GuestMemfd createGuestMemfd(long size, long flags) {
        int vm = fd.acquire();
        try {
            int raw = KvmException.check(Shim.createGuestMemfd(vm, size, flags), "KVM_CREATE_GUEST_MEMFD");
            return new GuestMemfd(new OwnedFd(raw, "guest_memfd"), size);
        } finally {
            fd.release();
        }
    }

    /**
     * Sets the attributes of a guest-physical range, such as {@code KVM_MEMORY_ATTRIBUTE_PRIVATE}
     * (the page comes from the slot's {@link GuestMemfd}). Issues {@code KVM_SET_MEMORY_ATTRIBUTES}.
     *
     * @param address the first guest-physical address, a multiple of 4 KiB
     * @param size the range's length, a positive multiple of 4 KiB
     * @param attributes the attribute bits ({@code KVM_CAP_MEMORY_ATTRIBUTES} answers which)
     * @throws KvmException {@code ENOTTY} when this VM's type has no memory attributes,
     *     {@code EINVAL} for attributes it does not support
     * @throws IllegalStateException if this VM is closed
     */
    public void setMemoryAttributes(long address, long size, long attributes) {
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.setMemoryAttributes(vm, address, size, attributes, 0), "KVM_SET_MEMORY_ATTRIBUTES");
        } finally {
            fd.release();
        }
    }

    /**
     * Switches this VM's dirty-page tracking to per-vCPU rings ({@link Vcpu#dirtyRing()}). Issues
     * {@code KVM_ENABLE_CAP(KVM_CAP_DIRTY_LOG_RING)}; call it before creating vCPUs. The bitmap
     * calls ({@link #dirtyLog(MemorySlot)}) are refused afterwards.
     *
     * @param bytes each ring's size in bytes: a power of two, at least one page, at most what
     *     {@link Capability#DIRTY_LOG_RING} answers
     * @throws IllegalArgumentException if {@code bytes} is not a power of two of at least 4 KiB
     * @throws KvmException {@code EINVAL} once vCPUs exist or for a size beyond the kernel's limit
     * @throws IllegalStateException if this VM is closed
     */
    public void enableDirtyRing(int bytes) {
        ensureOpen();
        if (bytes < GuestMemory.PAGE_SIZE || Integer.bitCount(bytes) != 1) {
            throw new IllegalArgumentException("a dirty ring's size must be a power of two of at least 4096 bytes, got " + bytes);
        }
        enableCap(CAP_DIRTY_LOG_RING, bytes, 0);
        dirtyRingBytes = bytes;
    }

    /** Each vCPU's dirty ring size, or 0 without {@link #enableDirtyRing}. */
    int dirtyRingBytes() {
        return dirtyRingBytes;
    }

    /**
     * Makes KVM recycle every harvested dirty-ring entry of every vCPU and write-protect those pages
     * again. Issues {@code KVM_RESET_DIRTY_RINGS}.
     *
     * @return how many entries were reset
     * @throws IllegalStateException if this VM is closed
     */
    public int resetDirtyRings() {
        return KvmException.check(fd.call(Ioctl.RESET_DIRTY_RINGS, 0), "KVM_RESET_DIRTY_RINGS");
    }

    /**
     * Write-protects pages of a dirty-logged slot again, for VMs that enabled
     * {@link Capability#MANUAL_DIRTY_LOG_PROTECT2}: there {@link #dirtyLog} only reports pages and
     * this call re-arms them. Issues {@code KVM_CLEAR_DIRTY_LOG}.
     *
     * @param slot a current slot of this VM, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param firstPage the first page to consider, a multiple of 64
     * @param pageCount how many pages, a multiple of 64 unless the range reaches the slot's end
     * @param pages bit {@code i} set to re-protect page {@code firstPage + i}
     * @throws IllegalArgumentException if {@code slot} is not current or does not log dirty pages
     * @throws KvmException {@code EINVAL} for a misaligned range or without manual protection
     * @throws IllegalStateException if this VM is closed
     */
    public void clearDirtyLog(MemorySlot slot, long firstPage, int pageCount, BitSet pages) {
        ensureOpen();
        MemorySlot known = requireLoggingSlot(slot);
        ByteBuffer bitmap = Memory.allocate((Math.max(pageCount, 0) + 63) / 64 * 8 + 8);
        byte[] bits = pages.toByteArray();
        bitmap.put(0, bits, 0, Math.min(bits.length, bitmap.capacity()));
        issueClearDirtyLog(known, firstPage, pageCount, bitmap);
    }

    /**
     * As {@link #clearDirtyLog(MemorySlot, long, int, BitSet)}, from a bitmap buffer the caller
     * owns and reuses, allocating nothing: for loops that re-protect again and again (a checkpoint
     * reset). Issues {@code KVM_CLEAR_DIRTY_LOG}.
     *
     * @param slot a current slot of this VM, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param firstPage the first page to consider, a multiple of 64
     * @param pageCount how many pages, a multiple of 64 unless the range reaches the slot's end
     * @param bitmap a direct buffer from its position 0 of at least one bit per page, in whole
     *     little-endian 64-bit words (as {@link #dirtyLog(MemorySlot, ByteBuffer)} fills): bit
     *     {@code i} set to re-protect page {@code firstPage + i}
     * @throws IllegalArgumentException if {@code slot} is not current or does not log dirty pages,
     *     {@code pageCount} is negative, or {@code bitmap} is not direct or too small; nothing is cleared
     * @throws KvmException {@code EINVAL} for a misaligned range or without manual protection
     * @throws IllegalStateException if this VM is closed
     */
    public void clearDirtyLog(MemorySlot slot, long firstPage, int pageCount, ByteBuffer bitmap) {
        ensureOpen();
        MemorySlot known = requireLoggingSlot(slot);
        if (pageCount < 0) {
            throw new IllegalArgumentException("a page count cannot be negative, got " + pageCount);
        }
        long needed = (pageCount + 63L) / 64 * 8;
        if (!bitmap.isDirect() || bitmap.capacity() < needed) {
            throw new IllegalArgumentException("clearing " + pageCount + " pages of the dirty log of " + known
                    + " needs a direct buffer of " + needed + " bytes, not " + bitmap);
        }
        issueClearDirtyLog(known, firstPage, pageCount, bitmap);
    }

    /** {@code KVM_CLEAR_DIRTY_LOG} from {@code bitmap}, for both public forms once they checked their arguments. */
    private void issueClearDirtyLog(MemorySlot known, long firstPage, int pageCount, ByteBuffer bitmap) {
        int vm = fd.acquire();
        try {
            KvmException.check(Shim.clearDirtyLog(vm, known.id(), firstPage, pageCount, Memory.addressOf(bitmap)), "KVM_CLEAR_DIRTY_LOG");
        } finally {
            fd.release();
            Reference.reachabilityFence(bitmap);
        }
    }

    /** {@code slot} as this VM knows it, which must log dirty pages: what every dirty-log call needs. */
    private MemorySlot requireLoggingSlot(MemorySlot slot) {
        MemorySlot known = requireSlot(slot);
        if ((known.flags() & MemorySlot.LOG_DIRTY_PAGES) == 0) {
            throw new IllegalArgumentException(known + " was not mapped with MemorySlot.LOG_DIRTY_PAGES");
        }
        return known;
    }

    /**
     * Sets the MSR filter: which guest MSR accesses KVM refuses (and, with
     * {@code KVM_CAP_X86_USER_SPACE_MSR}, hands to user space as {@link VmExit.MsrRead} and
     * {@link VmExit.MsrWrite}). Issues {@code KVM_X86_SET_MSR_FILTER}.
     *
     * @param filter the filter; {@link MsrFilter#allowByDefault()} with no ranges removes filtering
     * @throws KvmException {@code EINVAL} for a filter the kernel refuses
     * @throws IllegalStateException if this VM is closed
     */
    public void setMsrFilter(MsrFilter filter) {
        ensureOpen();
        ByteBuffer struct = filter.toStruct();
        try {
            KvmException.check(fd.call(Ioctl.SET_MSR_FILTER, Memory.addressOf(struct)), "KVM_X86_SET_MSR_FILTER");
        } finally {
            Reference.reachabilityFence(struct);
        }
    }

    /**
     * Opens this VM's binary statistics. Issues {@code KVM_GET_STATS_FD}.
     *
     * @return the statistics, which the caller closes
     * @throws KvmException {@code ENOTTY} on kernels without {@code KVM_CAP_BINARY_STATS_FD}
     * @throws IllegalStateException if this VM is closed
     */
    public Stats stats() {
        int raw = KvmException.check(fd.call(Ioctl.GET_STATS_FD, 0), "KVM_GET_STATS_FD");
        return new Stats(new OwnedFd(raw, "VM statistics"));
    }

    // ---- eventfd wiring ----

    /**
     * Makes a guest write of {@code length} bytes to {@code address} signal {@code event} inside
     * the kernel, without an exit to user space, whatever the value written. Issues
     * {@code KVM_IOEVENTFD}.
     *
     * @param event the eventfd to signal; closing it later is safe (the kernel holds its own
     *     reference until the registration is undone or the VM closed)
     * @param space port I/O or MMIO
     * @param address the port, or the guest-physical address
     * @param length bytes per write: 1, 2, 4 or 8; or 0 for a write of any width (KVM matches on
     *     the address alone)
     * @throws IllegalArgumentException for any other length
     * @throws KvmException {@code EEXIST} if the same address and length are registered already
     * @throws IllegalStateException if this VM is closed
     */
    public void registerIoEvent(EventFd event, IoSpace space, long address, int length) {
        ioEvent(event, space, address, length, 0, false, false);
    }

    /**
     * As {@link #registerIoEvent(EventFd, IoSpace, long, int)}, only for writes of {@code value};
     * other writes exit as usual.
     *
     * @param event the eventfd to signal
     * @param space port I/O or MMIO
     * @param address the port, or the guest-physical address
     * @param length bytes per write: 1, 2, 4 or 8
     * @param value the value that signals {@code event}
     * @throws IllegalArgumentException for any other length
     * @throws KvmException {@code EEXIST} if the same address, length and value are registered
     *     already
     * @throws IllegalStateException if this VM is closed
     */
    public void registerIoEvent(EventFd event, IoSpace space, long address, int length, long value) {
        ioEvent(event, space, address, length, value, true, false);
    }

    /**
     * Undoes {@link #registerIoEvent(EventFd, IoSpace, long, int)}. Issues {@code KVM_IOEVENTFD}
     * with the deassign flag.
     *
     * @param event the eventfd registered
     * @param space as registered
     * @param address as registered
     * @param length as registered: 1, 2, 4, 8 or 0
     * @throws IllegalArgumentException for any other length
     * @throws KvmException {@code ENOENT} if no such registration exists
     * @throws IllegalStateException if this VM is closed
     */
    public void unregisterIoEvent(EventFd event, IoSpace space, long address, int length) {
        ioEvent(event, space, address, length, 0, false, true);
    }

    /**
     * Undoes {@link #registerIoEvent(EventFd, IoSpace, long, int, long)}. Issues
     * {@code KVM_IOEVENTFD} with the deassign flag.
     *
     * @param event the eventfd registered
     * @param space as registered
     * @param address as registered
     * @param length as registered: 1, 2, 4 or 8
     * @param value as registered
     * @throws IllegalArgumentException for any other length
     * @throws KvmException {@code ENOENT} if no such registration exists
     * @throws IllegalStateException if this VM is closed
     */
    public void unregisterIoEvent(EventFd event, IoSpace space, long address, int length, long value) {
        ioEvent(event, space, address, length, value, true, true);
    }

    private void ioEvent(EventFd event, IoSpace space, long address, int length, long value, boolean match, boolean deassign) {
        ensureOpen();
        // Length 0 (any width) is KVM's, for writes without datamatch only.
        if (length != 1 && length != 2 && length != 4 && length != 8 && (length != 0 || match)) {
            throw new IllegalArgumentException("ioeventfd length must be 1, 2, 4 or 8 (or 0, any width, without a value), got " + length);
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

    /**
     * Makes a signal of {@code event} raise interrupt {@code gsi} in the in-kernel irqchip, with
     * no call from user space. Issues {@code KVM_IRQFD}.
     *
     * @param event the eventfd whose signals raise the interrupt
     * @param gsi the interrupt, as {@link #irqLine} numbers it
     * @throws KvmException {@code EINVAL} without an in-kernel irqchip, {@code EBUSY} if
     *     {@code event} is an irqfd of this VM already
     * @throws IllegalStateException if this VM is closed
     */
    public void registerIrqFd(EventFd event, int gsi) {
        irqFd(event, gsi, 0, null);
    }

    /**
     * As {@link #registerIrqFd(EventFd, int)}, for a level-triggered interrupt: a signal of
     * {@code event} raises the line, and when the guest acknowledges it (EOI) KVM lowers the line
     * and signals {@code resample}, so the device can raise it again if still pending. Issues
     * {@code KVM_IRQFD} with {@code KVM_IRQFD_FLAG_RESAMPLE}.
     *
     * @param event the eventfd whose signals raise the interrupt
     * @param gsi the interrupt, as {@link #irqLine} numbers it
     * @param resample the eventfd KVM signals at each EOI
     * @throws KvmException {@code EINVAL} without an in-kernel irqchip (a split irqchip included)
     * @throws IllegalStateException if this VM is closed
     */
    public void registerIrqFd(EventFd event, int gsi, EventFd resample) {
        irqFd(event, gsi, IRQFD_RESAMPLE, Objects.requireNonNull(resample, "resample"));
    }

    /**
     * Undoes {@link #registerIrqFd(EventFd, int)}. Issues {@code KVM_IRQFD} with the deassign flag.
     *
     * @param event the eventfd registered
     * @param gsi the interrupt it was registered for
     * @throws IllegalStateException if this VM is closed
     */
    public void unregisterIrqFd(EventFd event, int gsi) {
        irqFd(event, gsi, IRQFD_DEASSIGN, null);
    }

    private void irqFd(EventFd event, int gsi, int flags, EventFd resample) {
        int vm = fd.acquire();
        try {
            int efd = event.handle().acquire();
            try {
                int rfd = resample == null ? 0 : resample.handle().acquire();
                try {
                    KvmException.check(Shim.irqfd(vm, efd, gsi, flags, rfd), "KVM_IRQFD");
                } finally {
                    if (resample != null) {
                        resample.handle().release();
                    }
                }
            } finally {
                event.handle().release();
            }
        } finally {
            fd.release();
        }
    }

    /** The ioctl {@code op} with {@code struct}'s address; the descriptor held open and the struct kept reachable for the call. */
    private void struct(Ioctl op, KvmStruct struct) {
        try {
            KvmException.check(fd.call(op, struct.address()), op.kernelName());
        } finally {
            Reference.reachabilityFence(struct);
        }
    }

    // ---- lifetime ----

    /** {@return whether {@link #close()} was called} */
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
