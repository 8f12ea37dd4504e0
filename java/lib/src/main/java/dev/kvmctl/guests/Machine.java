package dev.kvmctl.guests;

import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.devices.DebugPort;
import dev.kvmctl.guests.devices.DeviceState;
import dev.kvmctl.guests.devices.MmioBus;
import dev.kvmctl.guests.devices.PortBus;
import dev.kvmctl.guests.devices.Serial8250;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.state.MpState;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * One booted guest: a VM with its RAM (a memfd, so it can be shared, snapshotted or re-mapped into
 * a rebuilt VM), its vCPUs ({@link GuestConfig#cpus()}, one by default) set up as
 * {@code docs/guest-contract.md} says, and the device models of the contract (serial console,
 * debug port, exit port). {@link #run(Duration)} drives the exit loop until the guest ends.
 *
 * <p>The vCPUs of an SMP machine take turns on the thread that drives it: a slice
 * ({@link #runSlice()}) runs one vCPU until it is kicked, and the next slice runs the next vCPU;
 * {@link #run(Duration)} kicks the running vCPU every {@link #SMP_QUANTUM}, a {@code Switcher}
 * at the end of each of its quanta. A guest's exit-port write, from any vCPU, ends the machine.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      Machine m = Machine.boot(kvm, GuestConfig.builder(image).mode(CpuMode.LONG).ring(3).build())) {
 *     RunResult r = m.run(Duration.ofSeconds(10));
 *     System.out.println(r.outcome() + " " + r.status());
 * }
 * }</pre>
 *
 * <p>Devices of your own go on its buses before it runs: {@link #ports()} and {@link #mmio()};
 * their state goes into contexts and snapshots once registered ({@link #registerDeviceState}).
 * A machine owns its VM and its RAM and closes both (the VM first); memory shared through
 * {@link GuestConfig.Builder#share} stays the caller's, to close after the machine (see the
 * close order in the {@link dev.kvmctl} package overview). Drive it from one thread at a time;
 * {@link #requestStop()} and {@link #wake()} are for other threads.
 */
public final class Machine implements Switchable, AutoCloseable {
    /** The port a guest writes its exit status to. */
    public static final int EXIT_PORT = 0xf4;
    /** How long each vCPU of an SMP machine runs before the next one's turn under {@link #run(Duration)}. */
    public static final Duration SMP_QUANTUM = Duration.ofMillis(1);

    /**
     * The timer of every machine's timeouts and SMP turns. Its thread starts with the class:
     * starting a thread costs about a millisecond here, which would otherwise fall on a restore's
     * way to the guest's first {@code KVM_RUN} (issue 11).
     */
    private static final ScheduledExecutorService WATCHDOG = watchdog();

    private static ScheduledExecutorService watchdog() {
        ScheduledThreadPoolExecutor timer = new ScheduledThreadPoolExecutor(1, r -> {
            Thread t = new Thread(r, "kvmctl-watchdog");
            t.setDaemon(true);
            return t;
        });
        timer.prestartCoreThread();
        return Executors.unconfigurableScheduledExecutorService(timer);
    }

    /** Cached: {@code values()} copies its array at every call. */
    private static final VmExit.Kind[] KINDS = VmExit.Kind.values();

    private final Kvm kvm;
    private final GuestConfig config;
    private final GuestMemory ram;
    private final PortBus ports = new PortBus();
    private final MmioBus mmio = new MmioBus();
    private final long[] exitCounts = new long[KINDS.length];
    private Vm vm;
    /** Set by {@link #close()}: the VM and RAM are gone, and no call may reach them. */
    private boolean closed;
    /** The current VM's vCPUs, by index; null between {@link #discardVm()} and {@link #createVm()}. */
    private volatile Vcpu[] vcpus;
    /** The index of the vCPU the current or next slice runs. */
    private volatile int current;
    /** Copy-on-write: a {@link VmPool}'s thread reads it while this machine's thread may add to it. */
    private final List<Consumer<Vm>> vmSetup = new CopyOnWriteArrayList<>();
    private final List<DeviceState> deviceStates = new ArrayList<>();
    /** What {@link #deviceStates()} returns: a view, so a switch allocates nothing for it. */
    private final List<DeviceState> deviceStatesView = Collections.unmodifiableList(deviceStates);
    private volatile boolean stopRequested;
    /** Why {@link #stopCorrupted} stopped the guest; null unless it did. */
    private volatile String corruption;
    private long runNanos;
    /** When the slice now running began ({@link System#nanoTime()}), or 0 between slices: only slices count as run time. */
    private long sliceStart;
    /** {@link System#nanoTime()} just before the first KVM_RUN of a guest instruction; valid once {@link #hasRun}. */
    private long firstRunAt;
    private boolean hasRun;
    private CallDevice callDevice;
    private int callPort = -1;
    private boolean blocked;
    private boolean pendingIo;
    private RunResult result;

    /** How a {@link #runSlice()} ended. */
    public sealed interface Slice permits Finished, Preempted, Blocked {}

    /**
     * The guest ended.
     *
     * @param result how: the same object {@link Machine#result()} returns from now on
     */
    public record Finished(RunResult result) implements Slice {}

    /** KVM_RUN was interrupted (a kick: quantum, timeout, stop); the guest can go on. */
    public record Preempted() implements Slice {}

    /** The guest's call to its {@link CallDevice} must wait for another VM. */
    public record Blocked() implements Slice {}

    private static final Slice PREEMPTED = new Preempted();
    private static final Slice BLOCKED = new Blocked();

    private Machine(Kvm kvm, GuestConfig config, GuestMemory ram) {
        this.kvm = kvm;
        this.config = config;
        this.ram = ram;
        ports.register(Serial8250.COM1, Serial8250.PORTS, new Serial8250(config.console()));
        ports.register(DebugPort.PORT, 1, new DebugPort(config.console()));
    }

    /**
     * Boots a guest: makes its RAM (a memfd), loads the image, creates the VM with its slots and
     * vCPU, and sets the vCPU up as {@code docs/guest-contract.md} says. Nothing runs yet. The
     * machine owns its RAM; the config's shared regions stay the caller's.
     *
     * @param kvm where to create the VM; must stay open while the machine creates VMs
     * @param config what to boot; must have an image
     * @return the machine, ready to {@link #run}
     * @throws GuestImageException if the image does not fit the RAM or touches the boot area
     * @throws IllegalArgumentException if the config has no image
     * @throws dev.kvmctl.KvmException if KVM refuses a step; nothing is left open
     */
    public static Machine boot(Kvm kvm, GuestConfig config) {
        GuestImage image = config.image();
        if (image == null) {
            throw new IllegalArgumentException(config.name() + " has no image to boot; use Machine.adopt for restored memory");
        }
        long reservedStart = config.mode() == CpuMode.LONG ? BootSetup.BOOT_AREA_START : 0;
        long reservedEnd = config.mode() == CpuMode.LONG ? BootSetup.BOOT_AREA_END : 0;
        image.checkFits(config.memorySize(), reservedStart, reservedEnd);
        if (config.mode() == CpuMode.REAL && image.entry() >= 0x100000) {
            throw new GuestImageException(String.format("%s: real-mode entry 0x%x is above 1 MiB", image.name(), image.entry()));
        }
        GuestMemory ram = GuestMemory.memfd("kvmctl-ram-" + config.name(), config.memorySize());
        Machine m = new Machine(kvm, config, ram);
        try {
            image.loadInto(ram);
            m.createVm();
            m.setUpVcpus();
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * A machine over memory that already holds a guest (a restored snapshot): creates the VM and
     * a vCPU in its reset state, loads nothing. Restore a context before running it.
     *
     * @param kvm where to create the VM
     * @param config the guest's configuration (usually {@link GuestConfig#withoutImage})
     * @param ram the guest's RAM, {@code config.memorySize()} bytes; the machine takes it over and closes it
     * @return the machine, its vCPU not set up
     * @throws IllegalArgumentException if {@code ram} is not the configured size
     */
    public static Machine adopt(Kvm kvm, GuestConfig config, GuestMemory ram) {
        if (ram.size() != config.memorySize()) {
            throw new IllegalArgumentException("RAM of " + ram.size() + " bytes does not match the configured " + config.memorySize());
        }
        Machine m = new Machine(kvm, config, ram);
        try {
            m.createVm();
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /**
     * Replaces the VM with a brand-new KVM VM over the same RAM and shared regions, with fresh
     * vCPUs in their reset state; per-VM wiring ({@link #onVmCreated}) is redone. Guest memory is
     * untouched: restore a context into the vCPUs before running it.
     */
    @Override
    public void rebuildVm() {
        if (closed) {
            throw new IllegalStateException(config.name() + ": the machine is closed; it cannot get a new VM");
        }
        discardVm();
        createVm();
    }

    /** Closes the VM and its vCPUs, keeping RAM: between a cold switch-out and the next {@link #rebuildVm()}. */
    @Override
    public void discardVm() {
        if (vm != null) {
            vcpus = null;
            vm.close();
            vm = null;
        }
    }

    /**
     * Finishes an I/O exit the slice ended on, so the vCPU's state is complete: on hardware KVM
     * an {@code out} is not finished until the next KVM_RUN. Enters KVM_RUN with
     * {@code immediate_exit} set, which completes the instruction and returns at once.
     */
    @Override
    public void completePendingIo() {
        Vcpu[] all = vcpus;
        if (!pendingIo || all == null) {
            return;
        }
        Vcpu vcpu = all[current];
        vcpu.immediateExit(true);
        VmExit exit = vcpu.run();
        if (!(exit instanceof VmExit.Interrupted)) {
            throw new IllegalStateException("completing an I/O exit gave " + exit + " instead of an immediate return");
        }
        pendingIo = false;
    }

    /**
     * {@return a copy of this machine's {@link MachineCounters}, the state of kvmctl's own device
     * models and run accounting, for contexts and snapshots} Devices a caller registered on
     * {@link #ports()} or {@link #mmio()} are not in it: their state is theirs to keep.
     */
    public MachineCounters counters() {
        return new MachineCounters(exitCounts.clone(), ports.unclaimed().reads(), ports.unclaimed().writes(),
                mmio.unclaimed().reads(), mmio.unclaimed().writes(), runNanos);
    }

    /**
     * Sets this machine's {@link MachineCounters}, when a context is restored into it.
     *
     * @param c counters from {@link #counters()}, of this machine or another
     */
    public void restoreCounters(MachineCounters c) {
        System.arraycopy(c.exits(), 0, exitCounts, 0, KINDS.length);
        ports.unclaimed().restore(c.unclaimedPortReads(), c.unclaimedPortWrites());
        mmio.unclaimed().restore(c.unclaimedMmioReads(), c.unclaimedMmioWrites());
        runNanos = c.runNanos();
    }

    /** {@return the KVM this machine's VMs are created on: the one given to {@link #boot} or {@link #adopt}} */
    public Kvm kvm() {
        return kvm;
    }

    /**
     * Takes the VM and its vCPUs out of this machine without closing them, keeping RAM, as
     * {@link #discardVm()} does: for a caller that closes the VM elsewhere ({@link VmPool}'s closer).
     *
     * @return the VM, now the caller's to close; null if the machine had none
     */
    public Vm detachVm() {
        Vm old = vm;
        vm = null;
        vcpus = null;
        return old;
    }

    /**
     * Makes a VM as {@link #rebuildVm()} would, without installing it: the VM, its irqchip if the
     * configuration has one, the RAM and shared-region slots, the vCPUs and the per-VM wiring of
     * {@link #onVmCreated}. Touches only what does not change while the machine runs, so it may
     * run on another thread while this machine's thread runs the guest ({@link VmPool} does).
     *
     * @return the new VM, for {@link #installVm}; nothing is left open if it throws
     * @throws dev.kvmctl.KvmException if KVM refuses a step
     * @throws IllegalStateException if the {@link Kvm} or the machine's RAM is closed
     */
    public PreparedVm prepareVm() {
        return buildVm();
    }

    /**
     * Installs a VM made by {@link #prepareVm()} as this machine's VM, where it has none (after
     * {@link #detachVm()} or {@link #discardVm()}): the cold switch-in of a {@link VmPool}.
     * Allocates nothing.
     *
     * @param next a VM this machine prepared, not installed before
     * @throws IllegalStateException if the machine is closed or still has a VM, or {@code next}
     *     was installed already or prepared by another machine; {@code next} is closed then unless
     *     it belongs to another machine
     */
    public void installVm(PreparedVm next) {
        if (next.machine() != this) {
            throw new IllegalStateException(config.name() + ": that VM was prepared for " + next.machine().name());
        }
        if (!next.claim()) {
            throw new IllegalStateException(config.name() + ": that prepared VM was installed or closed already");
        }
        if (closed || vm != null) {
            next.vm().close();
            throw new IllegalStateException(config.name() + (closed ? ": the machine is closed" : ": it still has a VM; detach it first"));
        }
        vcpus = next.vcpus();
        vm = next.vm();
    }

    /**
     * Registers a device model's state, which contexts, switches and snapshots of this machine
     * carry from now on (see {@link DeviceState}). Register the same devices, by name, on a
     * machine a context or snapshot is restored into.
     *
     * @param state the device's state section
     * @throws IllegalArgumentException if a device of that name is registered already
     */
    public void registerDeviceState(DeviceState state) {
        Objects.requireNonNull(state, "state");
        for (DeviceState d : deviceStates) {
            if (d.name().equals(state.name())) {
                throw new IllegalArgumentException(config.name() + " has a device state named \"" + state.name() + "\" already");
            }
        }
        deviceStates.add(state);
    }

    /** {@return the device states registered ({@link #registerDeviceState}), in order; an unmodifiable view} */
    @Override
    public List<DeviceState> deviceStates() {
        return deviceStatesView;
    }

    /** Creates the VM and its vCPUs over this machine's RAM and shared regions. */
    void createVm() {
        PreparedVm next = buildVm();
        vcpus = next.vcpus();
        vm = next.vm();
    }

    /** A new VM with its slots, its vCPUs and per-VM wiring; closed again if a step fails. */
    private PreparedVm buildVm() {
        Vm newVm = kvm.createVm();
        try {
            if (config.irqchip()) {
                newVm.createIrqchip();
                newVm.createPit();
            }
            newVm.mapMemory(0, ram);
            for (GuestConfig.SharedMapping s : config.shared()) {
                if (s.guestAddress() < ram.size()) {
                    throw new IllegalArgumentException(String.format(
                            "shared region at 0x%x overlaps the guest's %d bytes of RAM", s.guestAddress(), ram.size()));
                }
                newVm.mapMemory(s.guestAddress(), s.memory());
            }
            Vcpu[] created = new Vcpu[config.cpus()];
            for (int i = 0; i < created.length; i++) {
                created[i] = newVm.createVcpu(i);
            }
            for (Consumer<Vm> setup : vmSetup) {
                setup.accept(newVm);
            }
            return new PreparedVm(this, newVm, created);
        } catch (RuntimeException e) {
            newVm.close();
            throw e;
        }
    }

    private void setUpVcpus() {
        Vcpu[] all = vcpus;
        if (config.mode() == CpuMode.REAL) {
            BootSetup.realMode(all[0], config.image().entry()); // GuestConfig allows one vCPU in real mode
            return;
        }
        long mapTop = ram.size();
        long sharedBase = 0, sharedSize = 0;
        for (GuestConfig.SharedMapping s : config.shared()) {
            mapTop = Math.max(mapTop, s.guestAddress() + s.memory().size());
        }
        if (!config.shared().isEmpty()) {
            sharedBase = config.shared().get(0).guestAddress();
            sharedSize = config.shared().get(0).memory().size();
        }
        BootInfo info = new BootInfo(ram.size(), sharedBase, sharedSize, config.vmIndex(), config.vmCount(), config.args());
        for (int i = 0; i < all.length; i++) {
            BootSetup.longMode(all[i], ram, kvm.supportedCpuid(), config.ring(), config.image().entry(), mapTop,
                    info.forCpu(i, all.length));
            if (i > 0 && config.irqchip()) {
                // With an in-kernel LAPIC an application processor waits for INIT/SIPI; ours start
                // at the entry point directly, like vCPU 0.
                all[i].setMpState(new MpState().state(MpState.RUNNABLE));
            }
        }
    }

    /** {@return the configuration the machine was booted or adopted with} */
    public GuestConfig config() { return config; }
    /** {@return the guest's name, from its configuration} */
    @Override
    public String name() { return config.name(); }
    /**
     * {@return the current VM; null between {@link #discardVm()} and {@link #rebuildVm()}} A
     * rebuild replaces it: do not keep it across switches.
     */
    public Vm vm() { return vm; }

    /**
     * {@return the current VM, for a call that needs one} Every path in kvmctl that touches the
     * VM or its vCPU goes through this, so a closed machine or a discarded VM is a clear error
     * instead of a {@code NullPointerException} or a call on a closed file descriptor.
     *
     * @throws IllegalStateException if the machine is closed, or its VM was discarded
     *     ({@link #discardVm()}) and not yet rebuilt
     */
    @Override
    public Vm requireVm() {
        if (closed) {
            throw new IllegalStateException(config.name() + ": the machine is closed");
        }
        if (vm == null) {
            throw new IllegalStateException(config.name() + ": its VM was discarded; call rebuildVm() first");
        }
        return vm;
    }
    /** {@return the current VM's vCPU 0; replaced, like the VM, by {@link #rebuildVm()}, null between} */
    public Vcpu vcpu() {
        Vcpu[] all = vcpus;
        return all == null ? null : all[0];
    }

    /**
     * {@return the current VM's vCPU {@code index}; replaced, like the VM, by {@link #rebuildVm()}}
     *
     * @param index from 0 to {@link GuestConfig#cpus()}, exclusive
     * @throws IllegalStateException if the machine is closed or its VM was discarded
     * @throws IndexOutOfBoundsException if there is no such vCPU
     */
    public Vcpu vcpu(int index) {
        requireVm();
        return vcpus[index];
    }
    /** {@return the guest's RAM, mapped at guest-physical 0 of every VM the machine creates; the machine closes it} */
    public GuestMemory ram() { return ram; }
    /**
     * {@return the port I/O bus: the serial port and debug port are on it; register devices of
     * your own before running} The exit port ({@link #EXIT_PORT}) and a call device's port are
     * handled before the bus is asked.
     */
    public PortBus ports() { return ports; }
    /** {@return the MMIO bus: empty at boot; register devices of your own before running} */
    public MmioBus mmio() { return mmio; }

    /**
     * Runs {@code setup} on the VM now and again whenever the machine's VM is rebuilt (a cold
     * switch or a restore): for ioeventfds, irqfds and other per-VM wiring.
     *
     * @param setup what to do to each new VM, on the thread that creates it (a {@link VmPool}'s
     *     thread for the VMs it prepares): it must not touch what the machine's thread uses
     */
    public void onVmCreated(Consumer<Vm> setup) {
        setup.accept(requireVm());
        vmSetup.add(setup);
    }

    /**
     * Sends guest writes to {@code port} to {@code device}, whose calls may block, instead of to
     * the port bus. One call device per machine; a second call replaces the first.
     *
     * @param port the I/O port the guest calls through
     * @param device the device, told when the guest ends
     */
    public void setCallDevice(int port, CallDevice device) {
        this.callPort = port;
        this.callDevice = device;
    }

    /** {@return the call device, or null if none is set} */
    public CallDevice callDevice() {
        return callDevice;
    }

    /** Makes the run stop with {@link Outcome#STOPPED} at its next exit; safe from any thread. */
    public void requestStop() {
        stopRequested = true;
        wake();
    }

    /**
     * Makes the run stop with {@link Outcome#CORRUPTED} at its next exit, kicking the vCPU out of
     * {@code KVM_RUN} now: for whoever fills the guest's memory and finds it untrustworthy.
     * Safe from any thread; a guest that had already ended keeps its result.
     *
     * @param detail what is wrong with the memory and where, for the result
     */
    public void stopCorrupted(String detail) {
        corruption = detail;
        requestStop();
    }

    /** Interrupts KVM_RUN (of every vCPU) and a blocked call, so the driver regains control soon; safe from any thread. */
    public void wake() {
        Vcpu[] all = vcpus;
        if (all != null) {
            for (Vcpu v : all) {
                v.kick();
            }
        }
        if (callDevice != null) {
            callDevice.wake(this);
        }
    }

    /**
     * Makes the slice now running, or the next one, end soon as {@link Preempted}: kicks the vCPU
     * it runs. Safe from any thread.
     */
    @Override
    public void kick() {
        Vcpu[] all = vcpus;
        if (all != null) {
            all[current].kick();
        }
    }

    /** Clears {@code immediate_exit} on every vCPU, dropping a kick that came after its slice ended. */
    @Override
    public void clearKick() {
        Vcpu[] all = vcpus;
        if (all != null && !finished()) {
            for (Vcpu v : all) {
                v.immediateExit(false);
            }
        }
    }

    /** {@return whether a call that blocked can go on: its call device says so} */
    @Override
    public boolean ready() {
        return callDevice != null && callDevice.ready(this);
    }

    /**
     * Ends a guest that a driver other than {@link #run} gave up on (the switcher's time limit):
     * it finishes as {@link Outcome#TIMED_OUT}, releasing what its call device holds.
     *
     * @param detail why, for the result
     * @return the result; the earlier one if the guest had already ended
     */
    @Override
    public RunResult timeOut(String detail) {
        return result != null ? result : finish(Outcome.TIMED_OUT, Outcome.TIMEOUT_STATUS, detail, "");
    }

    /**
     * Ends a guest whose driver failed while running it ({@code cause}: anything thrown on its
     * thread, {@link Error}s included): it finishes as {@link Outcome#FAILED}, and its call device
     * releases what it holds and wakes its peers, as for any other end. Never throws; a guest that
     * had already ended keeps its result.
     *
     * @param cause what went wrong, named in the result's detail
     * @return the result; the earlier one if the guest had already ended
     */
    @Override
    public RunResult fail(Throwable cause) {
        if (result != null) {
            return result;
        }
        StringBuilder detail = new StringBuilder("the host failed while running it: ").append(cause);
        try {
            config.console().finish();
        } catch (Throwable t) { // the console may be what failed; the result matters more
            detail.append("; the console failed too: ").append(t);
        }
        result = resultOf(Outcome.FAILED, Outcome.FAILED_STATUS, detail.toString(), "");
        if (callDevice != null) {
            try {
                callDevice.ended(this);
            } catch (Throwable t) {
                // Nothing more can be done for the peers; closing the machine retries nothing either.
                result = resultOf(Outcome.FAILED, Outcome.FAILED_STATUS,
                        detail + "; releasing its shared resources failed: " + t, "");
            }
        }
        return result;
    }

    /** {@return the result once the guest has ended, or null until then} */
    @Override
    public RunResult result() {
        return result;
    }

    /** {@return whether the guest has ended; a machine that has cannot run again} */
    @Override
    public boolean finished() {
        return result != null;
    }

    /**
     * Runs until the guest ends or {@code timeout} passes (then {@link Outcome#TIMED_OUT}); a
     * zero or negative timeout means no limit. Handles every exit: the exit port, the call
     * device, the buses, and anything else as a fault.
     *
     * @param timeout the longest time to run, measured from the call
     * @return how the guest ended; the same result as {@link #result()} afterwards
     */
    public RunResult run(Duration timeout) {
        long start = System.nanoTime();
        long deadline = timeout.isZero() || timeout.isNegative() ? Long.MAX_VALUE : start + timeout.toNanos();
        ScheduledFuture<?> watchdog = deadline == Long.MAX_VALUE ? null
                : WATCHDOG.schedule(this::wake, timeout.toNanos(), TimeUnit.NANOSECONDS);
        long q = SMP_QUANTUM.toNanos();
        ScheduledFuture<?> turns = config.cpus() == 1 ? null : WATCHDOG.scheduleAtFixedRate(this::kick, q, q, TimeUnit.NANOSECONDS);
        try {
            while (true) {
                Slice slice = runSlice();
                if (slice instanceof Finished f) {
                    return f.result();
                }
                if (System.nanoTime() - deadline >= 0) {
                    return finish(Outcome.TIMED_OUT, Outcome.TIMEOUT_STATUS,
                            "no result after " + timeout.toMillis() + " ms; stopped", "");
                }
                if (slice instanceof Blocked) {
                    callDevice.await(this);
                }
            }
        } finally {
            if (watchdog != null) {
                watchdog.cancel(false);
            }
            if (turns != null) {
                turns.cancel(false);
            }
            config.console().finish();
        }
    }

    /**
     * {@return the {@link System#nanoTime()} reading taken just before this machine's first
     * {@code KVM_RUN} (its first slice), for measuring the time to a running guest}
     *
     * @throws IllegalStateException if the machine has not run yet
     */
    public long firstRunAt() {
        if (!hasRun) {
            throw new IllegalStateException(config.name() + " has not run yet: run it first");
        }
        return firstRunAt;
    }

    /**
     * Runs a vCPU until the guest ends ({@link Finished}), KVM_RUN is interrupted by a kick
     * ({@link Preempted}) or a call must wait ({@link Blocked}), handling device exits in between.
     * The switcher calls this once per time slice. An SMP machine runs one vCPU per slice, the
     * next one after each kick; a blocked or yielding vCPU goes on in the next slice.
     *
     * @return how the slice ended
     */
    @Override
    public Slice runSlice() {
        if (result != null) {
            return new Finished(result);
        }
        sliceStart = System.nanoTime();
        if (stopRequested) {
            return new Finished(stopped());
        }
        if (blocked) {
            CallDevice.Progress p = callDevice.resume(this);
            if (p == CallDevice.Progress.BLOCKED) {
                return endSlice(BLOCKED);
            }
            blocked = false;
            if (p == CallDevice.Progress.YIELD) {
                return endSlice(PREEMPTED);
            }
        }
        requireVm();
        pendingIo = false;
        Vcpu vcpu = vcpus[current];
        if (!hasRun) {
            // Time to a running guest (a restore's restore_ms) ends here.
            firstRunAt = System.nanoTime();
            hasRun = true;
        }
        while (true) {
            VmExit exit = vcpu.run();
            exitCounts[exit.kind().ordinal()]++; // a constant's ordinal: no allocation on the exit path
            if (exit instanceof VmExit.IoOut out) {
                if (out.port() == EXIT_PORT) {
                    int status = out.value();
                    return new Finished(finish(Outcome.EXITED, status, "guest wrote " + status + " to the exit port", ""));
                }
                if (out.port() == callPort && out.count() == 1) {
                    CallDevice.Progress p = callDevice.call(this, out.value());
                    if (p != CallDevice.Progress.DONE) {
                        pendingIo = true;
                        if (p == CallDevice.Progress.BLOCKED) {
                            blocked = true;
                            return endSlice(BLOCKED);
                        }
                        return endSlice(PREEMPTED);
                    }
                    continue;
                }
                for (int i = 0, n = out.count(); i < n; i++) {
                    ports.out(out.port(), out.size(), out.value(i));
                }
            } else if (exit instanceof VmExit.IoIn in) {
                in.answer(ports.in(in.port(), in.size()));
            } else if (exit instanceof VmExit.MmioWrite w) {
                mmio.write(w.address(), w.length(), w.value());
            } else if (exit instanceof VmExit.MmioRead r) {
                r.answer(mmio.read(r.address(), r.length()));
            } else if (exit instanceof VmExit.Interrupted) {
                if (stopRequested) {
                    return new Finished(stopped());
                }
                current = (current + 1) % vcpus.length; // the next vCPU's turn
                return endSlice(PREEMPTED);
            } else if (exit instanceof VmExit.Hlt) {
                return new Finished(finish(Outcome.HALTED, 0, "guest halted", ""));
            } else if (exit instanceof VmExit.SystemEvent ev && ev.type() != VmExit.SystemEvent.CRASH) {
                return new Finished(finish(Outcome.POWERED_OFF, 0, "guest requested " + exit, ""));
            } else {
                return new Finished(finish(Outcome.FAULTED, Outcome.FAULT_STATUS, exit.toString(),
                        FaultReport.describe(config.name(), exit, vcpu, ram)));
            }
        }
    }

    private RunResult stopped() {
        String why = corruption;
        return why != null ? finish(Outcome.CORRUPTED, Outcome.CORRUPTED_STATUS, why, "")
                : finish(Outcome.STOPPED, 0, "stopped by the host", "");
    }

    /** Counts the slice's run time; until the next slice the guest is not running. */
    private Slice endSlice(Slice slice) {
        runNanos += System.nanoTime() - sliceStart;
        sliceStart = 0;
        return slice;
    }

    private RunResult finish(Outcome outcome, int status, String detail, String dump) {
        config.console().finish();
        result = resultOf(outcome, status, detail, dump);
        if (callDevice != null) {
            callDevice.ended(this);
        }
        return result;
    }

    private RunResult resultOf(Outcome outcome, int status, String detail, String dump) {
        // counted once, even when a failure rewrites the detail; a guest that timed out between
        // slices (or before its first) ran no more
        if (result == null && sliceStart != 0) {
            runNanos += System.nanoTime() - sliceStart;
            sliceStart = 0;
        }
        Map<String, Long> byKind = new LinkedHashMap<>();
        for (int i = 0; i < KINDS.length; i++) {
            if (exitCounts[i] > 0) {
                byKind.put(KINDS[i].label(), exitCounts[i]);
            }
        }
        return new RunResult(config.name(), outcome, status, detail, byKind, ports.unclaimed().reads(), ports.unclaimed().writes(),
                mmio.unclaimed().reads(), mmio.unclaimed().writes(), Duration.ofNanos(runNanos), dump);
    }

    /** Closes the VM, then the RAM. Shared regions are left to their owner. */
    @Override
    public void close() {
        if (result == null && callDevice != null) {
            callDevice.ended(this); // a guest closed before it ended still gives back its blocks
        }
        closed = true;
        discardVm(); // vcpu null too: wake() from another thread kicks nothing closed
        ram.close();
    }
}
