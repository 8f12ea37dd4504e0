package dev.kvmctl.guests;

import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.devices.DebugPort;
import dev.kvmctl.guests.devices.MmioBus;
import dev.kvmctl.guests.devices.PortBus;
import dev.kvmctl.guests.devices.Serial8250;
import dev.kvmctl.memory.GuestMemory;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;

/**
 * One booted guest: a VM with its RAM (a memfd, so it can be shared, snapshotted or re-mapped into
 * a rebuilt VM), one vCPU set up as {@code docs/guest-contract.md} says, and the device models of
 * the contract (serial console, debug port, exit port). {@link #run(Duration)} drives the exit
 * loop until the guest ends.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open();
 *      Machine m = Machine.boot(kvm, GuestConfig.builder(image).mode(CpuMode.LONG).ring(3).build())) {
 *     RunResult r = m.run(Duration.ofSeconds(10));
 *     System.out.println(r.outcome() + " " + r.status());
 * }
 * }</pre>
 */
public final class Machine implements AutoCloseable {
    /** The port a guest writes its exit status to. */
    public static final int EXIT_PORT = 0xf4;

    private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "kvmctl-watchdog");
        t.setDaemon(true);
        return t;
    });

    private static final String[] KINDS = {"io-out", "io-in", "mmio-read", "mmio-write", "hlt", "shutdown",
        "fail-entry", "internal-error", "system-event", "debug", "interrupted", "exception", "hypercall",
        "irq-window-open", "unknown"};

    private final Kvm kvm;
    private final GuestConfig config;
    private final GuestMemory ram;
    private final PortBus ports = new PortBus();
    private final MmioBus mmio = new MmioBus();
    private final long[] exitCounts = new long[KINDS.length];
    private Vm vm;
    private Vcpu vcpu;
    private volatile boolean stopRequested;
    private long runNanos;
    private long sliceStart;

    private Machine(Kvm kvm, GuestConfig config, GuestMemory ram) {
        this.kvm = kvm;
        this.config = config;
        this.ram = ram;
        ports.register(Serial8250.COM1, Serial8250.PORTS, new Serial8250(config.console()));
        ports.register(DebugPort.PORT, 1, new DebugPort(config.console()));
    }

    /** Creates the VM, loads the image, sets up the vCPU. The machine owns its RAM; the config's shared regions stay the caller's. */
    public static Machine boot(Kvm kvm, GuestConfig config) {
        GuestImage image = config.image();
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
            m.setUpVcpu();
            return m;
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** (Re)creates the VM and its vCPU over this machine's RAM and shared regions, without touching guest state in memory. */
    void createVm() {
        Vm newVm = kvm.createVm();
        try {
            newVm.mapMemory(0, ram);
            for (GuestConfig.SharedMapping s : config.shared()) {
                if (s.guestAddress() < ram.size()) {
                    throw new IllegalArgumentException(String.format(
                            "shared region at 0x%x overlaps the guest's %d bytes of RAM", s.guestAddress(), ram.size()));
                }
                newVm.mapMemory(s.guestAddress(), s.memory());
            }
            vcpu = newVm.createVcpu(0);
            vm = newVm;
        } catch (RuntimeException e) {
            newVm.close();
            throw e;
        }
    }

    private void setUpVcpu() {
        if (config.mode() == CpuMode.REAL) {
            BootSetup.realMode(vcpu, config.image().entry());
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
        BootSetup.longMode(vcpu, ram, kvm.supportedCpuid(), config.ring(), config.image().entry(), mapTop, info);
    }

    public GuestConfig config() { return config; }
    public String name() { return config.name(); }
    public Vm vm() { return vm; }
    public Vcpu vcpu() { return vcpu; }
    public GuestMemory ram() { return ram; }
    public PortBus ports() { return ports; }
    public MmioBus mmio() { return mmio; }

    /** Makes the run stop with {@link Outcome#STOPPED} at its next exit; safe from any thread. */
    public void requestStop() {
        stopRequested = true;
        vcpu.kick();
    }

    /**
     * Runs until the guest ends or {@code timeout} passes (then {@link Outcome#TIMED_OUT}); a
     * zero or negative timeout means no limit.
     */
    public RunResult run(Duration timeout) {
        long start = System.nanoTime();
        long deadline = timeout.isZero() || timeout.isNegative() ? Long.MAX_VALUE : start + timeout.toNanos();
        Vcpu running = vcpu;
        ScheduledFuture<?> watchdog = deadline == Long.MAX_VALUE ? null
                : WATCHDOG.schedule(running::kick, timeout.toNanos(), TimeUnit.NANOSECONDS);
        sliceStart = start;
        try {
            while (true) {
                RunResult end = runSlice();
                if (end != null) {
                    return end;
                }
                sliceStart = System.nanoTime();
                if (sliceStart - deadline >= 0) {
                    return finish(Outcome.TIMED_OUT, Outcome.TIMEOUT_STATUS,
                            "no result after " + timeout.toMillis() + " ms; stopped", "");
                }
            }
        } finally {
            if (watchdog != null) {
                watchdog.cancel(false);
            }
            config.console().finish();
        }
    }

    /**
     * Runs the vCPU until the guest ends (the result) or KVM_RUN is interrupted by a kick (null),
     * handling device exits in between. The switcher calls this once per time slice.
     */
    public RunResult runSlice() {
        sliceStart = System.nanoTime();
        while (true) {
            if (stopRequested) {
                stopRequested = false;
                return finish(Outcome.STOPPED, 0, "stopped by the host", "");
            }
            VmExit exit = vcpu.run();
            count(exit);
            if (exit instanceof VmExit.IoOut out) {
                if (out.port() == EXIT_PORT) {
                    int status = out.value();
                    return finish(Outcome.EXITED, status, "guest wrote " + status + " to the exit port", "");
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
                if (!stopRequested) {
                    runNanos += System.nanoTime() - sliceStart;
                    return null;
                }
            } else if (exit instanceof VmExit.Hlt) {
                return finish(Outcome.HALTED, 0, "guest halted", "");
            } else if (exit instanceof VmExit.SystemEvent ev && ev.type() != VmExit.SystemEvent.CRASH) {
                return finish(Outcome.POWERED_OFF, 0, "guest requested " + exit, "");
            } else {
                return finish(Outcome.FAULTED, Outcome.FAULT_STATUS, exit.toString(),
                        FaultReport.describe(config.name(), exit, vcpu, ram));
            }
        }
    }

    private void count(VmExit exit) {
        String kind = exit.kind();
        for (int i = 0; i < KINDS.length; i++) {
            // kinds are interned literals: identity comparison is exact and allocation-free
            if (KINDS[i] == kind) {
                exitCounts[i]++;
                return;
            }
        }
    }

    private RunResult finish(Outcome outcome, int status, String detail, String dump) {
        long now = System.nanoTime();
        runNanos += now - sliceStart;
        sliceStart = now;
        config.console().finish();
        Map<String, Long> byKind = new LinkedHashMap<>();
        for (int i = 0; i < KINDS.length; i++) {
            if (exitCounts[i] > 0) {
                byKind.put(KINDS[i], exitCounts[i]);
            }
        }
        return new RunResult(config.name(), outcome, status, detail, byKind, ports.unclaimedReads(), ports.unclaimedWrites(),
                mmio.unclaimedReads(), mmio.unclaimedWrites(), Duration.ofNanos(runNanos), dump);
    }

    /** Closes the VM, then the RAM. Shared regions are left to their owner. */
    @Override
    public void close() {
        if (vm != null) {
            vm.close();
        }
        ram.close();
    }
}
