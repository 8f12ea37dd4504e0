package dev.kvmctl.contexts;

import dev.kvmctl.Vcpu;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Serial8250;
import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.List;

/**
 * Test helper: the smallest VMM of one's own, written against the kernel objects only (no
 * {@code Machine}): a host thread per vCPU, serial output into memory, the exit port ends the
 * guest. {@link #stop()} kicks every vCPU out and waits, leaving none with an unfinished I/O exit,
 * so the VM can be captured.
 */
final class OwnVmm {
    private final List<Vcpu> vcpus;
    private final ByteArrayOutputStream console;
    private final List<Thread> threads = new ArrayList<>();
    private volatile boolean stopping;
    private volatile int status = -1;
    private volatile Throwable failure;

    OwnVmm(List<Vcpu> vcpus, ByteArrayOutputStream console) {
        this.vcpus = vcpus;
        this.console = console;
    }

    /** Starts a thread per vCPU. */
    OwnVmm start() {
        for (Vcpu v : vcpus) {
            Thread t = new Thread(() -> loop(v), "own-vcpu-" + v.id());
            threads.add(t);
            t.start();
        }
        return this;
    }

    private void loop(Vcpu v) {
        try {
            while (true) {
                VmExit exit = v.run();
                if (exit instanceof VmExit.IoOut out && out.port() == Machine.EXIT_PORT) {
                    status = out.value();
                    stopping = true;
                    vcpus.forEach(Vcpu::kick);
                    return;
                } else if (exit instanceof VmExit.IoOut out && out.port() == Serial8250.COM1) {
                    synchronized (console) {
                        console.write(out.value());
                    }
                } else if (exit instanceof VmExit.Interrupted) {
                    if (stopping) {
                        return; // stopped on an interruption: no I/O exit left unfinished
                    }
                } else {
                    throw new AssertionError("vCPU " + v.id() + ": unexpected exit " + exit);
                }
            }
        } catch (Throwable t) {
            failure = t;
            stopping = true;
            vcpus.forEach(Vcpu::kick);
        }
    }

    /** Kicks every vCPU out of KVM_RUN and waits for their threads. */
    void stop() throws InterruptedException {
        stopping = true;
        vcpus.forEach(Vcpu::kick);
        join();
    }

    /** Waits for the threads to end by themselves (the guest wrote the exit port). */
    void join() throws InterruptedException {
        for (Thread t : threads) {
            t.join();
        }
        if (failure != null) {
            throw new AssertionError("the VMM failed", failure);
        }
        vcpus.forEach(v -> v.immediateExit(false)); // the kicks that stopped the others
    }

    /** {@return the status the guest wrote to the exit port, or -1} */
    int status() {
        return status;
    }

    String console() {
        synchronized (console) {
            return console.toString();
        }
    }
}
