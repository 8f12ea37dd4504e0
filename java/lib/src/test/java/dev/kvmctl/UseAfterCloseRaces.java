package dev.kvmctl;

import static dev.kvmctl.UseAfterCloseProbe.OUT_LOOP;
import static dev.kvmctl.UseAfterCloseProbe.READ_LOOP;
import static dev.kvmctl.UseAfterCloseProbe.SPIN;
import static dev.kvmctl.UseAfterCloseProbe.awaitAtLeast;
import static dev.kvmctl.UseAfterCloseProbe.check;
import static dev.kvmctl.UseAfterCloseProbe.worker;

import dev.kvmctl.UseAfterCloseProbe.Failure;
import dev.kvmctl.UseAfterCloseProbe.Guest;
import java.nio.ByteBuffer;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The race scenarios of {@link UseAfterCloseProbe} (run in its child JVM): one thread keeps using
 * an object while another closes it. Each verdict rests on what the threads observed (a refusal,
 * a value that must be the real one or zero), never on how long anything took: the closing thread
 * starts only once the other has demonstrably been at work, and every loop ends on a refusal.
 */
final class UseAfterCloseRaces {
    /** Rounds per race: enough to land closes at many points of the readers' loops. */
    private static final int ROUNDS = 40;
    /** Reads each reader makes before the close starts, so the close lands mid-loop. */
    private static final long WARM = 2_000;

    private UseAfterCloseRaces() {}

    static void all(Kvm kvm) throws InterruptedException {
        exitReadersAgainstClose(kvm);
        memoryReadersAgainstClose();
        runAgainstClose(kvm);
        guestKeepsMemoryClosedUnderIt(kvm);
    }

    /** Threads read a kept IoOut and a kvm_run view while the vCPU (or its VM) is closed. */
    @SuppressWarnings("try") // closing a resource early, inside its try, is the point
    private static void exitReadersAgainstClose(Kvm kvm) throws InterruptedException {
        Failure failure = new Failure();
        long refused = 0;
        for (int round = 0; round < ROUNDS; round++) {
            try (GuestMemory ram = GuestMemory.anonymous(0x10000); Vm vm = kvm.createVm()) {
                Guest g = new Guest(vm, ram, OUT_LOOP);
                VmExit.IoOut out = (VmExit.IoOut) g.vcpu.run();
                ByteBuffer view = g.vcpu.runPage();
                AtomicLong reads = new AtomicLong();
                AtomicBoolean closed = new AtomicBoolean();
                Thread exitReader = worker(failure, () -> {
                    try {
                        while (true) {
                            int port = out.port();
                            int value = out.value();
                            // Each read is the real field or, once the page is swapped, zero.
                            if ((port != 0x80 && port != 0) || (value != 0x42 && value != 0)) {
                                failure.record("a kept IoOut read port " + port + " value " + value);
                            }
                            reads.incrementAndGet();
                        }
                    } catch (IllegalStateException expected) {
                        // the only way out
                    }
                });
                Thread viewReader = worker(failure, () -> {
                    while (!closed.get()) {
                        int reason = view.getInt(RunPage.EXIT_REASON);
                        if (reason != RunPage.EXIT_IO && reason != 0) {
                            failure.record("a kvm_run view read exit reason " + reason);
                        }
                        reads.incrementAndGet();
                    }
                    if (view.getInt(RunPage.EXIT_REASON) != 0) {
                        failure.record("a kvm_run view read the real page after the close");
                    }
                });
                awaitAtLeast(reads, WARM, exitReader, viewReader);
                if (round % 2 == 0) {
                    g.vcpu.close();
                } else {
                    vm.close();
                }
                closed.set(true);
                exitReader.join();
                viewReader.join();
                refused++;
            }
        }
        check("race-exit-readers", failure.get() == null && refused == ROUNDS,
                failure.get() != null ? failure.get() : "kept exits refused or read zeros in " + refused + " closes");
    }

    /** Threads read guest memory (getLong, and a slice) while it is closed. */
    private static void memoryReadersAgainstClose() throws InterruptedException {
        Failure failure = new Failure();
        long marker = 0x1122334455667788L;
        for (int round = 0; round < ROUNDS; round++) {
            GuestMemory m = round % 2 == 0 ? GuestMemory.anonymous(0x10000) : GuestMemory.memfd("race", 0x10000);
            m.putLong(0x100, marker);
            ByteBuffer slice = m.slice(0, 0x1000);
            AtomicLong reads = new AtomicLong();
            AtomicBoolean closed = new AtomicBoolean();
            Thread reader = worker(failure, () -> {
                try {
                    while (true) {
                        long v = m.getLong(0x100);
                        byte[] copy = m.read(0x100, 8);
                        if ((v != marker && v != 0) || (copy[0] != (byte) 0x88 && copy[0] != 0)) {
                            failure.record("guest memory read " + Long.toHexString(v));
                        }
                        reads.incrementAndGet();
                    }
                } catch (IllegalStateException expected) {
                    // the only way out
                }
            });
            Thread sliceUser = worker(failure, () -> {
                while (!closed.get()) {
                    long v = slice.getLong(0x100);
                    if (v != marker && v != 0) {
                        failure.record("a slice read " + Long.toHexString(v));
                    }
                    slice.putLong(0x200, v); // a write racing the close lands in memory or a zero page
                    reads.incrementAndGet();
                }
                if (slice.getLong(0x100) != 0) {
                    failure.record("a slice read the real memory after the close");
                }
            });
            awaitAtLeast(reads, WARM, reader, sliceUser);
            m.close();
            closed.set(true);
            reader.join();
            sliceUser.join();
        }
        check("race-memory-readers", failure.get() == null,
                failure.get() != null ? failure.get() : "memory readers refused or read zeros in " + ROUNDS + " closes");
    }

    /** A thread inside KVM_RUN (a guest that never exits) while another closes its vCPU or VM. */
    @SuppressWarnings("try") // closing a resource early, inside its try, is the point
    private static void runAgainstClose(Kvm kvm) throws InterruptedException {
        Failure failure = new Failure();
        for (int round = 0; round < ROUNDS / 4; round++) {
            try (GuestMemory ram = GuestMemory.anonymous(0x10000); Vm vm = kvm.createVm()) {
                Guest g = new Guest(vm, ram, SPIN);
                CountDownLatch started = new CountDownLatch(1);
                Thread runner = worker(failure, () -> {
                    started.countDown();
                    try {
                        VmExit exit = g.vcpu.run();
                        failure.record("run() of a spinning guest returned " + exit + " instead of refusing");
                    } catch (IllegalStateException expected) {
                        // closed before or during the run
                    }
                });
                UseAfterCloseProbe.await(started);
                if (round % 2 == 0) {
                    g.vcpu.close();
                } else {
                    vm.close();
                }
                runner.join();
                if (!g.vcpu.isClosed()) {
                    failure.record("vCPU open after close()");
                }
            }
            // the try closed the RAM right after the VM: had the run outlived close(), the guest
            // would now be running on released memory
        }
        check("race-run-vs-close", failure.get() == null,
                failure.get() != null ? failure.get() : "a run in progress ended with a refusal each time; close() returned");
    }

    /** The guest reads memory in a loop on one thread; another closes the memory, then the VM. */
    @SuppressWarnings("try") // closing a resource early, inside its try, is the point
    private static void guestKeepsMemoryClosedUnderIt(Kvm kvm) throws InterruptedException {
        Failure failure = new Failure();
        try (GuestMemory ram = GuestMemory.anonymous(0x10000); Vm vm = kvm.createVm()) {
            GuestMemory window = GuestMemory.memfd("window", 0x1000);
            window.putByte(0, (byte) 0x5a);
            vm.mapMemory(0x20000, window);
            Guest g = new Guest(vm, ram, READ_LOOP);
            AtomicLong exits = new AtomicLong();
            Thread runner = worker(failure, () -> {
                try {
                    while (true) {
                        VmExit exit = g.vcpu.run();
                        if (!(exit instanceof VmExit.IoOut out) || out.value() != 0x5a) {
                            failure.record("the guest saw " + exit + " after its memory was closed");
                            return;
                        }
                        exits.incrementAndGet();
                    }
                } catch (IllegalStateException expected) {
                    // the VM was closed
                }
            });
            awaitAtLeast(exits, 100, runner);
            window.close();
            long atClose = exits.get();
            awaitAtLeast(exits, atClose + 100, runner);
            vm.close();
            runner.join();
        }
        check("race-guest-keeps-memory", failure.get() == null,
                failure.get() != null ? failure.get() : "a running guest kept reading memory closed under it until its VM closed");
    }
}
