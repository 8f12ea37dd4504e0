package dev.kvmctl.contexts;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.Switchable;
import dev.kvmctl.guests.devices.DeviceState;
import dev.kvmctl.guests.devices.Serial8250;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Test helper: a guest of a VMM's own, not a {@code Machine}, that a {@link Switcher} can run and
 * switch: its own {@link Vm} over its own RAM with {@code cpus} vCPUs (one per slice, the next after
 * each kick), serial output into memory, the exit port ends it, and one device state of its own.
 * The caller sets the vCPUs up before the first slice.
 */
final class OwnGuest implements Switchable {
    private final String name;
    private final Kvm kvm;
    private final GuestMemory ram;
    private final int cpus;
    private final ByteArrayOutputStream console = new ByteArrayOutputStream();
    private final List<DeviceState> devices;
    private Vm vm;
    private volatile Vcpu[] vcpus;
    private volatile int current;
    private RunResult result;
    /** How many VMs this guest has had: a cold switch makes a new one each time. */
    private int vmsBuilt;

    OwnGuest(String name, Kvm kvm, GuestMemory ram, int cpus, DeviceState device) {
        this.name = name;
        this.kvm = kvm;
        this.ram = ram;
        this.cpus = cpus;
        this.devices = List.of(device);
        rebuildVm();
    }

    @Override public String name() { return name; }

    @Override
    public Machine.Slice runSlice() {
        if (result != null) {
            return new Machine.Finished(result);
        }
        Vcpu v = vcpus[current];
        while (true) {
            VmExit exit = v.run();
            if (exit instanceof VmExit.IoOut out && out.port() == Machine.EXIT_PORT) {
                return new Machine.Finished(end(Outcome.EXITED, out.value(), "exit port"));
            } else if (exit instanceof VmExit.IoOut out && out.port() == Serial8250.COM1) {
                console.write(out.value());
            } else if (exit instanceof VmExit.Interrupted) {
                current = (current + 1) % cpus;
                return new Machine.Preempted();
            } else {
                return new Machine.Finished(end(Outcome.FAULTED, Outcome.FAULT_STATUS, exit.toString()));
            }
        }
    }

    private RunResult end(Outcome outcome, int status, String detail) {
        result = new RunResult(name, outcome, status, detail, Map.of(), 0, 0, 0, 0, Duration.ZERO, "");
        return result;
    }

    @Override
    public void kick() {
        Vcpu[] all = vcpus;
        if (all != null) {
            all[current].kick();
        }
    }

    @Override
    public void clearKick() {
        Vcpu[] all = vcpus;
        if (all != null && result == null) {
            for (Vcpu v : all) {
                v.immediateExit(false);
            }
        }
    }

    @Override public boolean finished() { return result != null; }
    @Override public RunResult result() { return result; }
    @Override public RunResult fail(Throwable cause) { return result != null ? result : end(Outcome.FAILED, Outcome.FAILED_STATUS, cause.toString()); }
    @Override public RunResult timeOut(String detail) { return result != null ? result : end(Outcome.TIMED_OUT, Outcome.TIMEOUT_STATUS, detail); }

    @Override
    public Vm requireVm() {
        if (vm == null) {
            throw new IllegalStateException(name + " has no VM");
        }
        return vm;
    }

    @Override public List<DeviceState> deviceStates() { return devices; }

    /** Slices end only on an interruption, never inside an I/O exit: nothing to complete. */
    @Override public void completePendingIo() { }

    @Override
    public void discardVm() {
        if (vm != null) {
            vcpus = null;
            vm.close();
            vm = null;
        }
    }

    @Override
    public void rebuildVm() {
        discardVm();
        Vm fresh = kvm.createVm();
        fresh.mapMemory(0, ram);
        Vcpu[] created = new Vcpu[cpus];
        for (int i = 0; i < cpus; i++) {
            created[i] = fresh.createVcpu(i);
        }
        vm = fresh;
        vcpus = created;
        vmsBuilt++;
    }

    int vmsBuilt() {
        return vmsBuilt;
    }

    String console() {
        return console.toString();
    }

    void close() {
        discardVm();
    }
}
