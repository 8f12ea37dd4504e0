package dev.kvmctl.contexts;

import dev.kvmctl.Capability;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.devices.DeviceState;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * A checkpoint of a stopped VM that it can be reset to again and again, cheaply: the context of
 * every vCPU ({@link VcpuContext}) and a copy of one memory slot's bytes. A reset copies back only
 * the pages the guest wrote since the checkpoint or the last reset, as KVM's dirty log names them
 * ({@code KVM_GET_DIRTY_LOG}, which write-protects the pages again as it returns them: one ioctl;
 * {@code scripts/bench-reset.sh} compares it with {@code KVM_CLEAR_DIRTY_LOG} under manual
 * protection), and restores the vCPUs in Firecracker's order (with the registers, special
 * registers and events through the {@code kvm_run} page where it can: see {@link #reset()}). A
 * fuzzer or a test harness runs a guest from the same state many times this way without
 * rebuilding it. A guest that writes mostly the same pages in every run is reset faster with
 * {@link Tracking#KEEP_WRITABLE}, which leaves those pages writable and copies them back every time
 * (read its trade-off: it turns on manual dirty-log protection for the whole VM).
 *
 * <pre>{@code
 * MemorySlot slot = vm.mapMemory(0, ram, MemorySlot.LOG_DIRTY_PAGES);
 * Vcpu cpu = vm.createVcpu(0);
 * // ... set the vCPU up, write the guest into ram, then:
 * try (Checkpoint checkpoint = Checkpoint.mark(vm, slot)) {
 *     for (int input = 0; input < 1000; input++) {
 *         cpu.run();                          // runs to an exit, writing some pages
 *         int pages = checkpoint.reset();     // back to the mark: those pages and the vCPU state
 *     }
 * }
 * }</pre>
 *
 * <p>What it covers: the vCPUs' architectural state, the slot's memory and, when given to
 * {@link #mark(Vm, MemorySlot, Scope, List)}, the VMM's device models ({@link DeviceState}: each
 * saved at the mark and handed back its bytes at every reset). Not covered: other slots and
 * in-kernel devices (irqchip, PIT, clock: see {@link HypervisorContext}). The slot must be mapped with
 * {@link MemorySlot#LOG_DIRTY_PAGES}, and the guest must write its memory only through that slot.
 *
 * <p>A reset without device models allocates nothing (the bitmap buffer and the contexts are the
 * checkpoint's own). Call
 * it only while no vCPU of the VM is inside {@code KVM_RUN}. On hardware KVM an I/O exit is
 * finished on the next {@code KVM_RUN}; KVM skips that completion when the restored instruction
 * pointer differs from the exit's, which it does unless the checkpoint was marked at that very
 * instruction. Not thread-safe.
 */
public final class Checkpoint implements AutoCloseable {
    /**
     * How much of each vCPU's state a reset writes back. Only the host sets CPUID and the TSC
     * frequency, so no scope restores them; the checkpoint always captures everything.
     */
    public enum Scope {
        /**
         * Everything a guest can change: MP state, registers, special registers, XSAVE, XCRs,
         * debug registers, the local APIC (with an in-kernel irqchip), every saveable MSR, vCPU
         * events. Right for any guest.
         */
        ALL,
        /**
         * {@link #ALL} but the MSRs, a quarter to a third of a reset in the first measurements
         * ({@code scripts/bench-reset.sh}): right for a guest that writes no MSR (a ring-3 guest
         * cannot: {@code wrmsr} faults there; its FS and GS bases are in the special registers).
         */
        NO_MSRS,
        /**
         * The general registers only ({@code KVM_SET_REGS}): right only for a guest whose run
         * changes nothing else (no segment, control or SSE/AVX register, no pending event), such
         * as a ring-3 loop of integer code. Anything else it changed stays changed.
         */
        REGISTERS
    }

    /**
     * How the dirty log follows the guest's writes between resets: a trade of write-protect faults
     * against copying. Given to {@link #mark(Vm, MemorySlot, Scope, List, Tracking)}; see
     * {@link #tracking()} for the one a checkpoint got.
     */
    public enum Tracking {
        /**
         * Every reset write-protects again the pages it copied back ({@code KVM_GET_DIRTY_LOG},
         * or {@code KVM_CLEAR_DIRTY_LOG} of those pages on a VM with manual protection): a reset
         * copies only the pages written since the last one, and the guest's first write to each
         * page of every run takes a write-protect fault (about 2.4 us a page under this machine's
         * KVM). The default; right for a guest that writes different pages in each run.
         */
        REPROTECT,
        /**
         * Pages the guest wrote stay writable across resets ("sticky"): no write-protect fault for
         * a page already in the set, but each reset copies back every page written since the mark
         * (or since the last re-protect), whether this run wrote it or not. When the set grows past
         * the checkpoint's limit ({@link #reprotectAbove()}), that reset write-protects all of it
         * again and the set starts empty, so a guest that once wrote much of its memory does not
         * make every later reset copy it all. Right for a guest that writes mostly the same few
         * pages in each run (a fuzz target's stack, heap and globals).
         *
         * <p>It needs manual dirty-log protection: the mark enables
         * {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2} on the whole VM (see
         * {@link Vm#manualDirtyLogProtect()}), for good. From then on {@code KVM_GET_DIRTY_LOG}
         * ({@link Vm#dirtyLog}) fetches without clearing for every slot of that VM: a caller who
         * reads another slot's log must clear what it fetched with {@link Vm#clearDirtyLog}, or it
         * will see every page written since (a superset, never a page too few). Other checkpoints
         * of the VM do that themselves; no other kvmctl feature reads the dirty log. On a kernel
         * without the capability the checkpoint falls back to {@link #REPROTECT}, which
         * {@link #tracking()} then answers.
         */
        KEEP_WRITABLE
    }

    private final Vm vm;
    private final MemorySlot slot;
    private final Vcpu[] vcpus;
    private final VcpuContext[] contexts;
    private final Scope scope;
    /** Whether resets hand regs, sregs and events to KVM through the kvm_run page (KVM_CAP_SYNC_REGS). */
    private final boolean syncRegs;
    private final GuestMemory copy;
    /** The device models reset with the VM, and their state and its version at the mark. */
    private final DeviceState[] devices;
    private final byte[][] deviceStates;
    private final int[] deviceVersions;
    private final ByteBuffer bitmap;
    private final int words;
    private final int slotPages;
    private final Tracking tracking;
    /** With KEEP_WRITABLE: a reset that copies more pages than this re-protects them all. */
    private final int reprotectAbove;
    private boolean closed;

    private Checkpoint(Vm vm, MemorySlot slot, Scope scope, Tracking tracking, int reprotectAbove, boolean syncRegs,
                       Vcpu[] vcpus, VcpuContext[] contexts,
                       GuestMemory copy, DeviceState[] devices, byte[][] deviceStates, int[] deviceVersions) {
        this.tracking = tracking;
        this.reprotectAbove = reprotectAbove;
        this.slotPages = (int) (slot.size() / GuestMemory.PAGE_SIZE);
        this.syncRegs = syncRegs;
        this.devices = devices;
        this.deviceStates = deviceStates;
        this.deviceVersions = deviceVersions;
        this.vm = vm;
        this.scope = scope;
        this.slot = slot;
        this.vcpus = vcpus;
        this.contexts = contexts;
        this.copy = copy;
        this.words = slot.dirtyLogBytes() / 8;
        this.bitmap = ByteBuffer.allocateDirect(slot.dirtyLogBytes()).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Marks a checkpoint of a stopped VM whose resets restore each vCPU's whole state
     * ({@link Scope#ALL}): captures every vCPU it has now, clears the slot's dirty log, and copies
     * the slot's memory into a private anonymous mapping of the same size (the checkpoint's;
     * {@link #close()} frees it).
     *
     * @param vm the VM, none of whose vCPUs is inside {@code KVM_RUN}; its vCPUs are the ones it
     *     has now
     * @param slot a current slot of {@code vm}, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @return the checkpoint, which holds the vCPUs and the slot but does not close them
     * @throws IllegalArgumentException if {@code slot} is not a current slot of {@code vm} or does
     *     not log dirty pages, or {@code vm} has no vCPU; nothing is allocated
     * @throws IllegalStateException if {@code vm}, a vCPU or the slot's memory is closed
     * @throws dev.kvmctl.KvmException if KVM refuses a read
     */
    public static Checkpoint mark(Vm vm, MemorySlot slot) {
        return mark(vm, slot, Scope.ALL);
    }

    /**
     * Marks a checkpoint whose resets restore only {@code scope} of each vCPU's state: faster for
     * guests known to change no more (see {@link Scope}). Otherwise as {@link #mark(Vm, MemorySlot)}.
     *
     * @param vm the VM, none of whose vCPUs is inside {@code KVM_RUN}
     * @param slot a current slot of {@code vm}, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param scope what a reset writes back into each vCPU
     * @return the checkpoint
     * @throws IllegalArgumentException if {@code slot} is not a current slot of {@code vm} or does
     *     not log dirty pages, or {@code vm} has no vCPU; nothing is allocated
     * @throws IllegalStateException if {@code vm}, a vCPU or the slot's memory is closed
     * @throws dev.kvmctl.KvmException if KVM refuses a read
     */
    public static Checkpoint mark(Vm vm, MemorySlot slot, Scope scope) {
        return mark(vm, slot, scope, List.of());
    }

    /**
     * Marks a checkpoint that also resets the VMM's device models: each one's
     * {@link DeviceState#save()} is taken now, and every {@link #reset()} hands it back to
     * {@link DeviceState#restore(int, byte[])} with the version it had at the mark, after the vCPUs.
     * Otherwise as {@link #mark(Vm, MemorySlot, Scope)}.
     *
     * @param vm the VM, none of whose vCPUs is inside {@code KVM_RUN}
     * @param slot a current slot of {@code vm}, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param scope what a reset writes back into each vCPU
     * @param devices the device models to reset with the VM, by distinct names (empty for none)
     * @return the checkpoint
     * @throws IllegalArgumentException as {@link #mark(Vm, MemorySlot, Scope)}, or if two devices
     *     share a name or a device saves {@code null}; nothing is allocated
     * @throws IllegalStateException if {@code vm}, a vCPU or the slot's memory is closed
     * @throws dev.kvmctl.KvmException if KVM refuses a read
     */
    public static Checkpoint mark(Vm vm, MemorySlot slot, Scope scope, List<? extends DeviceState> devices) {
        return mark(vm, slot, scope, devices, true);
    }

    /**
     * Marks a checkpoint whose dirty pages are tracked as {@code tracking} says: with
     * {@link Tracking#KEEP_WRITABLE}, pages the guest wrote stay writable and are copied back at
     * every reset until the set of them grows past an eighth of the slot's pages (at least 1),
     * when a reset re-protects them all. Otherwise as {@link #mark(Vm, MemorySlot, Scope, List)}.
     *
     * @param vm the VM, none of whose vCPUs is inside {@code KVM_RUN}
     * @param slot a current slot of {@code vm}, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param scope what a reset writes back into each vCPU
     * @param devices the device models to reset with the VM, by distinct names (empty for none)
     * @param tracking how the dirty log follows the guest's writes; {@link Tracking#KEEP_WRITABLE}
     *     turns on manual dirty-log protection for the whole VM (read its Javadoc), or falls back
     *     to {@link Tracking#REPROTECT} where the kernel cannot ({@link #tracking()} says which)
     * @return the checkpoint
     * @throws IllegalArgumentException as {@link #mark(Vm, MemorySlot, Scope, List)}; nothing is
     *     allocated
     * @throws IllegalStateException if {@code vm}, a vCPU or the slot's memory is closed
     * @throws dev.kvmctl.KvmException if KVM refuses a read or the capability
     */
    public static Checkpoint mark(Vm vm, MemorySlot slot, Scope scope, List<? extends DeviceState> devices, Tracking tracking) {
        return mark(vm, slot, scope, devices, tracking, defaultReprotectAbove(slot));
    }

    /**
     * As {@link #mark(Vm, MemorySlot, Scope, List, Tracking)}, with the limit of the
     * {@link Tracking#KEEP_WRITABLE} set given: a reset that copies back more than
     * {@code reprotectAbove} pages write-protects them all again (0: every reset does, as
     * {@link Tracking#REPROTECT} under manual protection). Ignored with {@link Tracking#REPROTECT}.
     *
     * @param vm the VM, none of whose vCPUs is inside {@code KVM_RUN}
     * @param slot a current slot of {@code vm}, mapped with {@link MemorySlot#LOG_DIRTY_PAGES}
     * @param scope what a reset writes back into each vCPU
     * @param devices the device models to reset with the VM, by distinct names (empty for none)
     * @param tracking how the dirty log follows the guest's writes
     * @param reprotectAbove the most pages the sticky set may hold after a reset, 0 or more
     * @return the checkpoint
     * @throws IllegalArgumentException as {@link #mark(Vm, MemorySlot, Scope, List)}, or if
     *     {@code reprotectAbove} is negative; nothing is allocated
     * @throws IllegalStateException if {@code vm}, a vCPU or the slot's memory is closed
     * @throws dev.kvmctl.KvmException if KVM refuses a read or the capability
     */
    public static Checkpoint mark(Vm vm, MemorySlot slot, Scope scope, List<? extends DeviceState> devices,
                                  Tracking tracking, int reprotectAbove) {
        return mark(vm, slot, scope, devices, tracking, reprotectAbove, true, true);
    }

    /** An eighth of the slot's pages, at least 1. */
    private static int defaultReprotectAbove(MemorySlot slot) {
        return (int) Math.max(1, slot.size() / GuestMemory.PAGE_SIZE / 8);
    }

    /**
     * {@link #mark(Vm, MemorySlot, Scope, List)}, with {@code syncRegs} false to restore every part
     * by ioctl even where KVM could take the registers through the {@code kvm_run} page (the
     * fallback for kernels without {@code KVM_CAP_SYNC_REGS}, tested on one with it).
     */
    static Checkpoint mark(Vm vm, MemorySlot slot, Scope scope, List<? extends DeviceState> devices, boolean syncRegs) {
        return mark(vm, slot, scope, devices, Tracking.REPROTECT, defaultReprotectAbove(slot), syncRegs, true);
    }

    /**
     * The mark itself; {@code manualProtect} false acts as a kernel without
     * {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2} would (the fallback, tested on one with it).
     */
    static Checkpoint mark(Vm vm, MemorySlot slot, Scope scope, List<? extends DeviceState> devices,
                           Tracking tracking, int reprotectAbove, boolean syncRegs, boolean manualProtect) {
        Objects.requireNonNull(scope, "scope");
        Objects.requireNonNull(tracking, "tracking");
        if (reprotectAbove < 0) {
            throw new IllegalArgumentException("reprotectAbove must be 0 or more pages, got " + reprotectAbove);
        }
        DeviceState[] models = devices.toArray(new DeviceState[0]);
        byte[][] states = new byte[models.length][];
        int[] versions = new int[models.length];
        Set<String> names = new HashSet<>();
        for (int i = 0; i < models.length; i++) {
            if (!names.add(models[i].name())) {
                throw new IllegalArgumentException("two devices are named \"" + models[i].name() + "\"; give each a distinct name");
            }
            versions[i] = models[i].version();
            states[i] = models[i].save();
            if (states[i] == null) {
                throw new IllegalArgumentException("device \"" + models[i].name() + "\" saved null; save an empty array for no state");
            }
        }
        if ((slot.flags() & MemorySlot.LOG_DIRTY_PAGES) == 0) {
            throw new IllegalArgumentException(slot + " was not mapped with MemorySlot.LOG_DIRTY_PAGES; a checkpoint needs its dirty log");
        }
        List<Vcpu> list = vm.vcpus();
        if (list.isEmpty()) {
            throw new IllegalArgumentException("the VM has no vCPU to checkpoint; create its vCPUs first");
        }
        Vcpu[] vcpus = list.toArray(new Vcpu[0]);
        VcpuContext[] contexts = new VcpuContext[vcpus.length];
        for (int i = 0; i < vcpus.length; i++) {
            contexts[i] = new VcpuContext(vm.kvm(), vm.hasIrqchip());
            contexts[i].capture(vcpus[i]);
        }
        Tracking granted = tracking == Tracking.KEEP_WRITABLE && !(manualProtect && protectsManually(vm))
                ? Tracking.REPROTECT : tracking;
        GuestMemory copy = GuestMemory.anonymous(slot.size());
        try {
            Checkpoint checkpoint = new Checkpoint(vm, slot, scope, granted, reprotectAbove,
                    syncRegs && scope == Scope.NO_MSRS && !vm.hasIrqchip() && syncsAllRegs(vm), vcpus, contexts, copy,
                    models, states, versions);
            if (granted == Tracking.KEEP_WRITABLE && !vm.manualDirtyLogProtect()) {
                vm.enableCap(Capability.MANUAL_DIRTY_LOG_PROTECT2, 1, 0); // KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE
            }
            // Clear the log first: from here on every guest write is logged, and the copy below
            // is of memory the stopped guest no longer changes.
            vm.dirtyLog(slot, checkpoint.bitmap);
            if (vm.manualDirtyLogProtect()) {
                vm.clearDirtyLog(slot, 0, checkpoint.slotPages, checkpoint.bitmap);
            }
            copy.copyFrom(slot.memory(), slot.memoryOffset(), 0, slot.size());
            return checkpoint;
        } catch (RuntimeException e) {
            copy.close();
            throw e;
        }
    }

    /** Whether the kernel can leave re-protection to KVM_CLEAR_DIRTY_LOG on {@code vm}. */
    private static boolean protectsManually(Vm vm) {
        return (vm.checkExtension(Capability.MANUAL_DIRTY_LOG_PROTECT2) & 1) != 0;
    }

    /** Whether KVM syncs regs, sregs and vCPU events through the kvm_run page for {@code vm}'s vCPUs. */
    private static boolean syncsAllRegs(Vm vm) {
        int all = Vcpu.SYNC_REGS | Vcpu.SYNC_SREGS | Vcpu.SYNC_EVENTS;
        return (vm.checkExtension(Capability.SYNC_REGS) & all) == all;
    }

    /**
     * Resets the VM to this checkpoint: fetches and clears the slot's dirty log, copies the pages
     * it names back from the checkpoint's copy (runs of adjacent pages in one copy), and restores
     * every vCPU's context, as much as the checkpoint's {@link Scope} says, in Firecracker's order
     * (CPUID, which only the host sets, is left as it is), then the device models given to the
     * mark, if any. The log then holds nothing, so the next reset copies only what the guest
     * writes from now on; with {@link Tracking#KEEP_WRITABLE} it keeps the pages written since the
     * mark or the last re-protect, copied again by the next reset, unless there were more than
     * {@link #reprotectAbove()} of them: then it write-protects them all ({@code KVM_CLEAR_DIRTY_LOG}).
     *
     * <p>With {@link Scope#NO_MSRS}, no in-kernel irqchip and a kernel that syncs registers
     * through the {@code kvm_run} page ({@code KVM_CAP_SYNC_REGS} with all three sets), the
     * registers, special registers and vCPU events are written into each vCPU's page and applied
     * by KVM at its next {@code KVM_RUN}, three ioctls fewer per vCPU, to the same state (the
     * reasoning is in {@code VcpuContext}). Until then every state call on the vCPU (a get, a set,
     * a capture) applies them first, so it sees or overrides the reset state as after an ioctl.
     *
     * <p>Allocates nothing without device models; with them, a copy of each one's saved bytes
     * (and what its {@code restore} allocates).
     *
     * @return how many pages were copied back
     * @throws IllegalStateException if this checkpoint, the VM, a vCPU or the slot's memory is
     *     closed; the guest is then left as it was, or partly reset if the memory was closed
     *     during the copy
     * @throws IllegalArgumentException if the slot was removed or moved since the mark
     * @throws dev.kvmctl.KvmException if KVM refuses the log fetch or a part of a vCPU's state
     */
    public int reset() {
        if (closed) {
            throw new IllegalStateException("checkpoint is closed");
        }
        vm.dirtyLog(slot, bitmap);
        int pages = 0;
        long runStart = -1, runEnd = -1; // the run of adjacent dirty pages not yet copied
        for (int w = 0; w < words; w++) {
            long base = (long) w * 64;
            for (long bits = bitmap.getLong(w * 8); bits != 0; bits &= bits - 1) {
                long page = base + Long.numberOfTrailingZeros(bits);
                if (page != runEnd) {
                    if (runStart >= 0) {
                        copyBack(runStart, runEnd);
                    }
                    runStart = page;
                }
                runEnd = page + 1;
                pages++;
            }
        }
        if (runStart >= 0) {
            copyBack(runStart, runEnd);
        }
        // Under manual protection KVM_GET_DIRTY_LOG cleared nothing: re-protect what was copied,
        // unless the sticky set of KEEP_WRITABLE may stay (the VM's flag is read at every reset:
        // another checkpoint may have turned manual protection on after this one's mark).
        if (pages > 0 && vm.manualDirtyLogProtect() && (tracking == Tracking.REPROTECT || pages > reprotectAbove)) {
            vm.clearDirtyLog(slot, 0, slotPages, bitmap);
        }
        for (int i = 0; i < vcpus.length; i++) {
            if (scope == Scope.REGISTERS) {
                vcpus[i].setRegs(contexts[i].regs());
            } else {
                contexts[i].restoreGuestWritable(vcpus[i], scope == Scope.ALL, syncRegs);
            }
        }
        for (int i = 0; i < devices.length; i++) {
            // A copy: a device may keep or change the array it is given, and the next reset needs the mark's bytes.
            devices[i].restore(deviceVersions[i], deviceStates[i].clone());
        }
        return pages;
    }

    /** Copies pages {@code [from, to)} of the slot back from the checkpoint's copy. */
    private void copyBack(long from, long to) {
        long offset = from * GuestMemory.PAGE_SIZE;
        slot.memory().copyFrom(copy, offset, slot.memoryOffset() + offset, (to - from) * GuestMemory.PAGE_SIZE);
    }

    /**
     * {@return how the dirty log follows the guest's writes: what the mark was asked for, or
     * {@link Tracking#REPROTECT} where {@link Tracking#KEEP_WRITABLE} was asked for and the kernel
     * lacks {@code KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2}}
     */
    public Tracking tracking() {
        return tracking;
    }

    /**
     * {@return with {@link Tracking#KEEP_WRITABLE}, the most pages a reset copies back and leaves
     * writable; a reset that copies more write-protects them all again}
     */
    public int reprotectAbove() {
        return reprotectAbove;
    }

    /** {@return what a reset restores of each vCPU} */
    public Scope scope() {
        return scope;
    }

    /**
     * {@return whether resets hand each vCPU's registers, special registers and events to KVM
     * through its {@code kvm_run} page (see {@link #reset()}); false when the kernel cannot or this
     * checkpoint's scope or the VM's in-kernel irqchip at the mark rules it out}
     */
    public boolean resetsThroughSyncRegs() {
        return syncRegs;
    }

    /** {@return the slot whose memory this checkpoint holds} */
    public MemorySlot slot() {
        return slot;
    }

    /**
     * {@return the context of the {@code index}-th vCPU, in the order {@link Vm#vcpus()} gave at
     * the mark; the checkpoint's own, restored at every reset}
     *
     * @param index 0 up to the number of vCPUs, exclusive
     * @throws IndexOutOfBoundsException if there is no such vCPU
     */
    public VcpuContext vcpuContext(int index) {
        return contexts[index];
    }

    /**
     * Frees the checkpoint's copy of memory; idempotent. The VM, its vCPUs and its memory stay
     * their owner's. A later {@link #reset()} throws {@link IllegalStateException}.
     */
    @Override
    public void close() {
        closed = true;
        copy.close();
    }
}
