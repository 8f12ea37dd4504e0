package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.PreparedVm;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.VmPool;
import dev.kvmctl.state.Cpuid;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The pool of prepared VMs behind cold switches ({@link VmPool}), on the real /dev/kvm: each
 * switch-in gets a brand-new VM, the retired ones are all closed, closing the pool leaves no
 * descriptor and no thread behind, the depth grows when a switch-in finds nothing ready and a
 * machine that ended holds nothing, and a VM the background thread could not make fails the
 * machine with the reason instead of hanging. Nothing here depends on how fast VMs are made:
 * where a test needs the preparer busy or failed, a per-VM setup step holds or fails it.
 */
class VmPoolTest {
    private static final String PREPARER = "kvmctl-vm-preparer";

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    private static long openFds() {
        try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
            return fds.count();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static boolean poolThreadsAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.isAlive() && t.getName().startsWith("kvmctl-vm-"));
    }

    private static boolean onPreparer() {
        return Thread.currentThread().getName().equals(PREPARER);
    }

    @Test
    void everySwitchInGetsANewVmAndClosingThePoolLeavesNothingOpen() {
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false);
             Machine b = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), true)) {
            long fdsBefore = openFds();
            List<Vm> seen = new ArrayList<>();
            VmPool pool = new VmPool();
            try {
                for (int i = 0; i < 30; i++) {
                    for (Machine m : List.of(a, b)) {
                        seen.add(m.vm());
                        pool.retire(m);
                        assertNull(m.vm(), "retired: the machine has no VM until the next install");
                    }
                    for (Machine m : List.of(a, b)) {
                        pool.install(m);
                        assertFalse(seen.contains(m.vm()), "a brand-new VM at every switch-in");
                        assertEquals(m.config().irqchip(), m.vm().hasIrqchip(), "with the machine's irqchip");
                        assertEquals(1, m.vm().memorySlots().size(), "its RAM mapped");
                    }
                }
                assertEquals(60, pool.takes());
                assertTrue(pool.depth(a) >= 1 && pool.depth(a) <= VmPool.DEFAULT_MAX_DEPTH, "depth " + pool.depth(a));
                assertTrue(pool.ready(a) <= pool.depth(a), pool.ready(a) + " ready, depth " + pool.depth(a));
            } finally {
                pool.close();
            }
            for (Vm vm : seen) {
                assertTrue(vm.isClosed(), "every retired VM is closed once the pool is");
            }
            assertFalse(poolThreadsAlive(), "the pool's threads have ended");
            assertEquals(fdsBefore, openFds(), "no descriptor left behind: prepared VMs closed, each machine has one VM");
            assertTrue(pool.prepared() >= pool.takes() - pool.misses(), "every switch-in that found one ready installed a prepared VM");
            assertThrows(IllegalStateException.class, () -> pool.retire(a), "a closed pool takes no VM");
            assertNull(a.vm(), "and closed the machine's VM rather than keep it");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.install(a));
            assertEquals("the VM pool is closed", e.getMessage());
            pool.close(); // idempotent
        }
    }

    @Test
    void aSwitchInThatFindsNothingReadyMakesItsOwnAndRaisesTheDepth() throws InterruptedException {
        CountDownLatch preparerBusy = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false);
             Machine b = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false);
             VmPool pool = new VmPool()) {
            a.onVmCreated(vm -> {
                if (onPreparer()) { // hold the preparer on a's VM until the test has switched b in
                    preparerBusy.countDown();
                    try {
                        release.await();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            pool.retire(a);
            preparerBusy.await();
            pool.retire(b);
            Vm before = b.vm();
            pool.install(b); // nothing ready for b, nothing being made: made here
            assertNotSame(before, b.vm());
            assertEquals(1, pool.misses());
            assertEquals(2, pool.depth(b), "a miss raises the depth");
            release.countDown();
            pool.install(a); // waits for the VM being made for it
            assertEquals(2, pool.takes());
            a.timeOut("ended by the test");
            pool.retire(b);
            pool.install(b); // a has ended: what was kept for it is released
            assertEquals(0, pool.depth(a));
            assertEquals(0, pool.ready(a));
        }
    }

    @Test
    void aVmTheBackgroundCouldNotMakeFailsTheNextSwitchInWithTheReason() throws InterruptedException {
        CountDownLatch failing = new CountDownLatch(1);
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false);
             VmPool pool = new VmPool()) {
            a.onVmCreated(vm -> {
                if (onPreparer()) {
                    failing.countDown();
                    throw new IllegalStateException("planted: no wiring for this VM");
                }
            });
            pool.retire(a);
            failing.await(); // the preparer is failing: the install below waits for it or sees it
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> pool.install(a));
            assertTrue(e.getMessage().startsWith("hello-long: its next VM could not be prepared: "), e.getMessage());
            assertTrue(e.getMessage().contains("planted: no wiring for this VM"), e.getMessage());
            assertNull(a.vm(), "no VM installed");
        }
    }

    @Test
    void aSwitcherEndsTheMachineWhoseVmCouldNotBePreparedAsFailed() {
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.boot(kvm, "spin.elf", new ByteArrayOutputStream(), false);
             Machine b = Guests.boot(kvm, "spin.elf", new ByteArrayOutputStream(), false);
             ContextSwitchHook cold = new ContextSwitchHook(SwitchMode.COLD)) {
            a.onVmCreated(vm -> {
                if (onPreparer()) {
                    throw new IllegalStateException("planted: no wiring for this VM");
                }
            });
            Switcher s = new Switcher(List.of(a, b), Duration.ofMillis(1)).addHook(cold).addHook(new SwitchHook() {
                @Override
                public void afterSwitchIn(SwitchEvent e) {
                    if (a.finished()) {
                        b.requestStop(); // a's end is all this test waits for
                    }
                }
            });
            List<RunResult> results = s.run(Duration.ofSeconds(120));
            assertEquals(Outcome.FAILED, results.get(0).outcome(), results.get(0).toString());
            assertTrue(results.get(0).detail().contains("could not be prepared")
                    && results.get(0).detail().contains("planted: no wiring for this VM"), results.get(0).detail());
            assertEquals(Outcome.STOPPED, results.get(1).outcome(), results.get(1).toString());
        }
    }

    @Test
    void aPreparedVcpuGetsTheContextsCpuidAheadOfTheRestore() {
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false);
             VmPool pool = new VmPool()) {
            MachineContext ctx = new MachineContext(a);
            ctx.capture(a);
            pool.retire(a, ctx.vcpu().cpuid());
            while (pool.ready(a) == 0) { // waits for the preparer, however long it takes
                Thread.onSpinWait();
            }
            assertTrue(pool.install(a), "the prepared vCPU holds the context's CPUID");
            Cpuid pooled = a.vcpu().getCpuid(new Cpuid(Cpuid.MAX_ENTRIES));
            try (PreparedVm reference = a.prepareVm()) {
                reference.vm().vcpus().get(0).setCpuid(ctx.vcpu().cpuid());
                assertEquals(reference.vm().vcpus().get(0).getCpuid(new Cpuid(Cpuid.MAX_ENTRIES)), pooled,
                        "the same table as a restore sets");
            }
            ctx.vmContext().restore(a.requireVm(), a.deviceStates(), false);
            pool.retire(a);
            while (pool.ready(a) == 0) {
                Thread.onSpinWait();
            }
            assertTrue(pool.install(a), "a retire without a table keeps the last one given");
        }
    }

    @Test
    void aPreparedVmIsInstalledOnceAndOnlyIntoItsOwnMachine() {
        try (Kvm kvm = Kvm.open();
             Machine a = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false);
             Machine b = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false)) {
            PreparedVm p = a.prepareVm();
            assertEquals("hello-long: it still has a VM; detach it first",
                    assertThrows(IllegalStateException.class, () -> a.installVm(p)).getMessage());
            assertTrue(p.vm().isClosed(), "refused: closed, not leaked");
            PreparedVm q = a.prepareVm();
            assertThrows(IllegalStateException.class, () -> b.installVm(q), "another machine's VM");
            assertFalse(q.vm().isClosed(), "still a's to install");
            a.detachVm().close();
            a.installVm(q);
            assertEquals(q.vm(), a.vm());
            a.detachVm().close();
            assertThrows(IllegalStateException.class, () -> a.installVm(q), "installed already");
            q.close(); // installed: the machine's, not closed again here
        }
    }
}
