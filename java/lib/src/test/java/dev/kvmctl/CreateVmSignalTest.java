package dev.kvmctl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.kvmctl.internal.bridge.Shim;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * KVM_CREATE_VM fails with EINTR when a signal reaches the thread while the kernel registers the
 * VM's MMU notifier (it takes every lock of the address space, interruptibly); {@link Kvm#createVm()}
 * retries, as QEMU and Firecracker do, so a signal (a profiler's timer, a kick) costs a retry,
 * never a failed VM.
 */
class CreateVmSignalTest {
    private static final int VMS = 200;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void aSignalDuringCreationCostsARetryNotAFailure() throws InterruptedException {
        AtomicInteger announced = new AtomicInteger(-1);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        long[] creatorThread = new long[1];
        int[] created = new int[1];
        Thread creator = new Thread(() -> {
            creatorThread[0] = Shim.threadSelf();
            try (Kvm kvm = Kvm.open()) {
                for (int i = 0; i < VMS; i++) {
                    announced.set(i); // the signaller kicks once per announcement: one signal per creation
                    kvm.createVm().close();
                    created[0]++;
                }
            } catch (Throwable t) {
                failure.set(t);
            } finally {
                announced.set(VMS);
            }
        }, "create-vm-under-signals");
        Kick.signal(Shim.threadSelf()); // installs the handler first, so a kick never kills the process
        creator.start();
        int seen = -1;
        while (seen < VMS) {
            int now = announced.get();
            if (now != seen && now < VMS) {
                Kick.signal(creatorThread[0]);
            }
            seen = now;
            Thread.onSpinWait();
        }
        creator.join();
        assertNull(failure.get(), () -> "a signal made KVM_CREATE_VM fail: " + failure.get());
        assertEquals(VMS, created[0]);
    }
}
