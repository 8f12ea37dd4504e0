package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.guests.devices.DeviceState;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.function.Function;
import java.util.function.LongConsumer;

/**
 * A stopped machine, or a stopped VM a VMM built itself, on disk: its configuration (a machine's),
 * its {@link VmContext} (hypervisor level with the registered device states, every vCPU) and its
 * RAM, in one versioned, checksummed file that a new process restores.
 *
 * <p>Layout ({@code SnapshotFormat}): a 64-byte header; the metadata (a {@link Sections}
 * container); then the RAM image at a page-aligned offset. Only non-zero pages are written, so
 * zero pages stay holes in a sparse file. Every byte is covered by a CRC32C. This class holds the
 * steps (capture and write, read and restore); the bytes are the format's: {@code SnapshotFormat}
 * (header, page runs), {@code GuestConfigCodec} (the configuration), the contexts' own encodings,
 * {@code SnapshotWriter} and {@code SnapshotReader} (the file I/O).
 *
 * <p>Writing is durable and atomic: the file is built under a temporary name in the same
 * directory, every write checked, synced, and renamed over the target, and the directory synced.
 * A failed write (full disk, I/O error, an exception) leaves the previous file exactly as it was
 * and no temporary file behind; a process that has the old file open keeps reading the old bytes.
 *
 * <p>Restoring checks before it trusts: every count and size is bounded before anything is
 * allocated or read, the memory size is checked against the file's length before the memory is
 * read, and the file is opened once and read through that one descriptor in a single pass that
 * checks the memory checksum while it copies the memory into the new machine's own RAM (a memfd).
 * The restored guest never maps the file, so truncating or rewriting the file later cannot reach
 * it. (A private file mapping would not be safe: truncating a file discards even the private
 * copy-on-write pages of its mappings, and the next touch of one raises SIGBUS.)
 *
 * <pre>{@code
 * try (Machine machine = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("spin")).build())) {
 *     new Thread(machine::requestStop).start();    // from any thread, at any time
 *     machine.run(Duration.ZERO);                  // returns once the stop is seen: STOPPED
 *     Snapshot.write(machine, Path.of("guest.snap"), done -> {});
 * }
 * // later, in another process:
 * try (Machine again = Snapshot.restore(kvm, Path.of("guest.snap"), System.out)) {
 *     again.run(Duration.ofSeconds(10));          // the guest goes on where it stopped
 * }
 * }</pre>
 *
 * <p>A VMM with its own VM snapshots it with {@link #write(Vm, GuestMemory, List, Path, LongConsumer)}
 * (the RAM at guest-physical 0 and its devices' {@link DeviceState}s) and restores it into a VM
 * it built the same way with {@link #restoreInto(Vm, GuestMemory, List, Path)}.
 *
 * <p>Version 2 files carry any number of vCPUs and device states, and snapshots of VMMs' own VMs;
 * version 1 files (one vCPU, a machine's) are read as they are.
 */
public final class Snapshot {
    /**
     * The first 8 bytes of every snapshot file: {@code "KVMCSNAP"} in ASCII, read as a
     * little-endian long.
     */
    public static final long MAGIC = 0x50414e53434d564bL;
    /** The file format version this kvmctl writes; it reads this one and every earlier one. */
    public static final int VERSION = 2;

    /**
     * What the header and metadata of a snapshot file say.
     *
     * @param file the file it was read from
     * @param name the guest's name; null for a snapshot of a VMM's own VM
     * @param mode the mode the guest was booted in; null for a snapshot of a VMM's own VM
     * @param ring the privilege level the guest was booted at, 0 or 3 (0 for a VMM's own VM)
     * @param memorySize the guest's RAM in bytes, a multiple of 4 KiB
     * @param args the guest arguments it was booted with (none for a VMM's own VM)
     * @param irqchip whether its VM had an in-kernel irqchip (a restore needs the same)
     * @param cpus how many vCPUs it has (a restore needs as many)
     * @param devices the names of the device states it holds, in order (a restore needs the same devices)
     * @param memoryOffset where in the file the RAM image starts, page-aligned
     * @param storedBytes the file's length in bytes (zero pages are holes, so it may take less disk)
     */
    public record Info(Path file, String name, CpuMode mode, int ring, long memorySize, long[] args, boolean irqchip,
                       int cpus, List<String> devices, long memoryOffset, long storedBytes) {
        /** {@return whether it was taken from a kvmctl {@link Machine} (else from a VMM's own VM)} */
        public boolean isMachine() {
            return name != null;
        }
    }

    private Snapshot() {}

    /**
     * Checks that a snapshot can be written to {@code file}, without writing one: its directory
     * exists and takes new files, and the file is new or a regular file (not a directory, device
     * or FIFO). Call it before running a guest that is to be saved, so a bad path fails at once.
     *
     * @param file where the snapshot is to go
     * @return the path a snapshot will be written to ({@code file}, or what it links to)
     * @throws IllegalArgumentException saying what is wrong and what to do
     */
    public static Path checkDestination(Path file) {
        return AtomicFile.checkDestination(file);
    }

    /**
     * Captures {@code machine} (which must not be running) and writes it to {@code file},
     * replacing any previous file there atomically. {@code progress} gets the RAM bytes written
     * so far, every 64 MiB and at the end.
     *
     * @param machine the machine: stopped or between slices, with no shared region
     * @param file where to write the snapshot
     * @param progress called with the RAM bytes written so far, on the calling thread
     * @return the file's length in bytes (zero pages are holes, so it may take less disk)
     * @throws IllegalArgumentException if {@code file} cannot be a snapshot ({@link #checkDestination}),
     *     or {@code machine} maps a shared region (its peers would be left inconsistent)
     * @throws UncheckedIOException if writing fails (disk full, I/O error); the message names the
     *     file, and the previous file, if any, is unchanged
     * @throws IllegalStateException if {@code machine} is closed or its VM was discarded; nothing is written
     */
    public static long write(Machine machine, Path file, LongConsumer progress) {
        return write(machine, file, progress, index -> null);
    }

    /** {@link #write}, a diff snapshot where {@code diff} gives the link to the base for the machine's memory index. */
    static long write(Machine machine, Path file, LongConsumer progress, Function<MemoryIndex, DiffSnapshot.Link> diff) {
        if (!machine.config().shared().isEmpty()) {
            throw new IllegalArgumentException(machine.name() + " maps a shared region: a snapshot of one of its VMs "
                    + "would leave the others inconsistent, so kvmctl does not take one");
        }
        Path target = checkDestination(file);
        MachineContext ctx = new MachineContext(machine);
        ctx.capture(machine);
        Sections sections = ctx.vmContext().putInto(new Sections().put(Sections.MACHINE_CONFIG,
                GuestConfigCodec.encode(machine.config())));
        return writeFile(target, file, sections, machine.ram(), diff, progress);
    }

    /**
     * Captures a VM a VMM built itself ({@link VmContext#capture}: the hypervisor level, the
     * devices' states, every vCPU) and writes it with its RAM to {@code file}, replacing any
     * previous file there atomically. The RAM is the memory mapped at guest-physical 0; memory
     * mapped elsewhere is not saved.
     *
     * @param vm the VM: none of its vCPUs inside {@code KVM_RUN} or with an unfinished I/O exit
     * @param ram its RAM, mapped at guest-physical 0
     * @param devices the VMM's device models whose state goes with it (empty for none)
     * @param file where to write the snapshot
     * @param progress called with the RAM bytes written so far, every 64 MiB and at the end
     * @return the file's length in bytes
     * @throws IllegalArgumentException if {@code file} cannot be a snapshot, the VM does not map
     *     {@code ram} whole at guest-physical 0, has no vCPU, or two devices have one name
     * @throws UncheckedIOException if writing fails; the previous file, if any, is unchanged
     */
    public static long write(Vm vm, GuestMemory ram, List<? extends DeviceState> devices, Path file, LongConsumer progress) {
        requireRamAtZero(vm, ram);
        Path target = checkDestination(file);
        VmContext ctx = new VmContext(vm);
        ctx.capture(vm, devices);
        return writeFile(target, file, ctx.sections(), ram, index -> null, progress);
    }

    /**
     * Writes the metadata {@code sections}, with the RAM's memory index (and, for a diff, its
     * link to the base), and the RAM (for a diff, only the chunks the link stores).
     */
    private static long writeFile(Path target, Path file, Sections sections, GuestMemory ram,
                                  Function<MemoryIndex, DiffSnapshot.Link> diff, LongConsumer progress) {
        MemoryIndex index = MemoryIndex.of(ram);
        DiffSnapshot.Link link = diff.apply(index);
        sections.put(MemoryIndex.SECTION, index.encode());
        if (link != null) {
            sections.put(DiffSnapshot.SECTION, link.encode());
        }
        byte[] metadata = sections.encode();
        boolean replacing = Files.exists(target);
        boolean committed = false;
        try (AtomicFile out = AtomicFile.create(target)) {
            long length = SnapshotWriter.write(out.channel(), metadata, ram, index,
                    link == null ? chunk -> true : chunk -> link.stored()[chunk], progress);
            out.commit();
            committed = true;
            return length;
        } catch (IOException e) {
            String after = committed ? "; it was written, but its directory could not be synced, so it may not survive a crash"
                    : replacing ? "; the previous " + file + " is unchanged" : "; no file was written";
            throw new UncheckedIOException("could not write snapshot " + file + ": " + AtomicFile.reason(e) + after, e);
        }
    }

    /**
     * Reads and checks a snapshot's header, metadata and memory checksum; restores nothing.
     *
     * @param file the snapshot
     * @return what its header and metadata say
     * @throws ContextFormatException if there is no such file, or it is not an intact snapshot
     * @throws UncheckedIOException if reading fails; the message names the file
     */
    public static Info inspect(Path file) {
        try (FileChannel ch = open(file)) {
            SnapshotReader.Metadata m = SnapshotReader.readMetadata(ch, file);
            SnapshotReader.readMemory(ch, file, m, null);
            return m.info();
        } catch (IOException e) {
            throw readError(file, e);
        }
    }

    /**
     * Restores the snapshot as a new machine whose console goes to {@code console}: checks
     * everything while reading it once, builds a VM, restores both context levels.
     *
     * @param kvm the open KVM to create the machine's VM on
     * @param file the snapshot
     * @param console where the guest's serial and debug-port output goes
     * @return the restored machine, not yet running, which the caller closes (it owns its RAM)
     * @throws ContextFormatException if there is no such file, or it is not an intact snapshot this
     *     host can restore
     * @throws UncheckedIOException if reading fails; the message names the file
     */
    public static Machine restore(Kvm kvm, Path file, OutputStream console) {
        try (FileChannel ch = open(file)) {
            return restore(kvm, ch, file, console);
        } catch (IOException e) {
            throw readError(file, e);
        }
    }

    /**
     * {@link #restore(Kvm, Path, OutputStream)} from a channel already open on the snapshot: it
     * is read with positional reads only (its position is left alone) and {@code file} only names
     * it in messages. Whatever the path names by now, the bytes restored are the channel's.
     *
     * @param kvm the open KVM to create the machine's VM on
     * @param channel the snapshot, open for reading; it stays the caller's to close
     * @param file the snapshot's name, for messages
     * @param console where the guest's serial and debug-port output goes
     * @return the restored machine, not yet running, which the caller closes (it owns its RAM)
     * @throws ContextFormatException if the snapshot is not intact or this host cannot restore it
     * @throws UncheckedIOException if reading fails; the message names {@code file}
     */
    public static Machine restore(Kvm kvm, FileChannel channel, Path file, OutputStream console) {
        try {
            SnapshotReader.Metadata m = SnapshotReader.readMetadata(channel, file);
            if (m.config() == null) {
                throw new ContextFormatException(file + " was taken from a VMM's own VM, not a kvmctl machine: restore it into a VM "
                        + "built like it with Snapshot.restoreInto(Vm, GuestMemory, List, Path)");
            }
            GuestConfig config = GuestConfigCodec.decode(m.config(), new Console(console, null));
            GuestMemory ram = GuestMemory.memfd(memfdName(config.name()), m.info().memorySize());
            try {
                SnapshotReader.readMemory(channel, file, m, ram);
            } catch (IOException | RuntimeException e) {
                ram.close();
                throw e;
            }
            Machine machine;
            try {
                machine = Machine.adopt(kvm, config, ram);
            } catch (RuntimeException e) {
                ram.close();
                throw e;
            }
            try {
                loadContext(machine, m).restore(machine);
                return machine;
            } catch (RuntimeException e) {
                machine.close();
                throw e;
            }
        } catch (IOException e) {
            throw readError(file, e);
        }
    }

    /**
     * Restores the snapshot into an existing machine, whose RAM must be the snapshot's size and
     * whose VM must have the same devices and number of vCPUs. The file is read and checked whole
     * before the machine's memory is touched, so a bad file changes nothing. The machine gets a
     * brand-new VM. A snapshot with device states needs a machine that registered the same devices
     * ({@link Machine#registerDeviceState}).
     *
     * @param machine the machine: not running, with RAM of the snapshot's size, the same
     *     in-kernel irqchip (or none) and the same number of vCPUs
     * @param file the snapshot
     * @throws ContextFormatException if there is no such file, or it is not an intact snapshot, or does not fit
     *     {@code machine}
     * @throws UncheckedIOException if reading fails; the message names the file
     */
    public static void restoreInto(Machine machine, Path file) {
        try (FileChannel ch = open(file)) {
            SnapshotReader.Metadata m = SnapshotReader.readMetadata(ch, file);
            Info info = m.info();
            if (machine.ram().size() != info.memorySize()) {
                throw new ContextFormatException(String.format("%s holds %d bytes of RAM, but %s has %d: refusing to restore",
                        file, info.memorySize(), machine.name(), machine.ram().size()));
            }
            if (machine.config().irqchip() != info.irqchip()) {
                throw new ContextFormatException(file + " was taken from a VM " + (info.irqchip() ? "with" : "without")
                        + " an in-kernel irqchip; " + machine.name() + " differs");
            }
            MachineContext ctx = loadContext(machine, m); // parsed and checked before memory is touched
            ctx.vmContext().hypervisor().checkDevices(machine.deviceStates());
            readMemoryInto(ch, file, m, machine.ram());
            machine.rebuildVm();
            ctx.restore(machine);
        } catch (IOException e) {
            throw readError(file, e);
        }
    }

    /**
     * Restores a snapshot into a VM a VMM built itself, over {@code ram} mapped at its
     * guest-physical 0: the RAM's contents, then the {@link VmContext} (hypervisor level, the
     * devices' states, every vCPU). The VM needs the snapshot's in-kernel irqchip (or none) and
     * as many vCPUs, created and not running; {@code devices} the same names. The file is read
     * and checked whole, and the VM and devices checked, before {@code ram} is touched, so a bad
     * file or a VM that does not fit changes nothing. Either kind of snapshot goes in, a
     * machine's too.
     *
     * @param vm the target VM, its vCPUs created (a brand-new one, or the one snapshotted)
     * @param ram its RAM, the snapshot's size, mapped at guest-physical 0
     * @param devices the VMM's device models, the same names as at the snapshot
     * @param file the snapshot
     * @throws ContextFormatException if the file is not an intact snapshot, or does not fit the
     *     VM, its RAM or its devices
     * @throws IllegalArgumentException if the VM has another number of vCPUs than the snapshot, or
     *     does not map {@code ram} whole at guest-physical 0
     * @throws UncheckedIOException if reading fails (a missing file too); the message names the file
     */
    public static void restoreInto(Vm vm, GuestMemory ram, List<? extends DeviceState> devices, Path file) {
        requireRamAtZero(vm, ram);
        try (FileChannel ch = open(file)) {
            SnapshotReader.Metadata m = SnapshotReader.readMetadata(ch, file);
            Info info = m.info();
            if (ram.size() != info.memorySize()) {
                throw new ContextFormatException(String.format("%s holds %d bytes of RAM, but the target has %d: refusing to restore",
                        file, info.memorySize(), ram.size()));
            }
            VmContext ctx = new VmContext(vm.kvm(), info.irqchip(), info.cpus());
            ctx.load(m.context());
            ctx.checkVcpus(vm);
            ctx.hypervisor().checkFits(vm, devices);
            readMemoryInto(ch, file, m, ram);
            ctx.restore(vm, devices);
        } catch (IOException e) {
            throw readError(file, e);
        }
    }

    /** Refuses RAM that {@code vm} does not map, whole, at guest-physical 0: a snapshot's RAM is that memory. */
    private static void requireRamAtZero(Vm vm, GuestMemory ram) {
        for (MemorySlot slot : vm.memorySlots()) {
            if (slot.guestAddress() == 0 && slot.memory() == ram && slot.memoryOffset() == 0 && slot.size() == ram.size()) {
                return;
            }
        }
        throw new IllegalArgumentException("the VM does not map this RAM whole at guest-physical 0; a snapshot holds the memory "
                + "there: map it with vm.mapMemory(0, ram) first");
    }

    /**
     * The one place a snapshot's memory is restored into existing RAM: read and checked whole
     * into a scratch image first, so a bad file leaves {@code ram} as it was.
     */
    private static void readMemoryInto(FileChannel ch, Path file, SnapshotReader.Metadata m, GuestMemory ram) throws IOException {
        try (GuestMemory image = GuestMemory.anonymous(m.info().memorySize())) {
            SnapshotReader.readMemory(ch, file, m, image);
            ram.copyFrom(image, 0, 0, image.size());
        }
    }

    static MachineContext loadContext(Machine machine, SnapshotReader.Metadata m) {
        return loadContext(machine.kvm(), machine.config(), m);
    }

    /** The snapshot's contexts, decoded and checked, for a machine of {@code config} on {@code kvm}; it need not exist yet. */
    static MachineContext loadContext(Kvm kvm, GuestConfig config, SnapshotReader.Metadata m) {
        MachineContext ctx = new MachineContext(kvm, config.irqchip(), config.cpus());
        ctx.vmContext().load(m.context());
        return ctx;
    }

    /**
     * Opens {@code file} once for reading. A missing file, a directory, device or FIFO is the
     * caller's input to fix (see KvmException's error rule), refused before it is opened.
     */
    static FileChannel open(Path file) throws IOException {
        if (!Files.exists(file)) {
            throw new ContextFormatException("no snapshot file " + file + "; give the file a snapshot was written to");
        }
        if (!Files.isRegularFile(file)) {
            throw new ContextFormatException(file + " is not a regular file (a directory, device or FIFO); a snapshot is a regular file");
        }
        return FileChannel.open(file, StandardOpenOption.READ);
    }

    static UncheckedIOException readError(Path file, IOException e) {
        return new UncheckedIOException("could not read snapshot " + file + ": " + AtomicFile.reason(e), e);
    }

    /** memfd_create refuses names over 249 bytes; the name is only a label in /proc. */
    static String memfdName(String guest) {
        String name = "kvmctl-ram-" + guest;
        return name.length() > 64 ? name.substring(0, 64) : name;
    }
}
