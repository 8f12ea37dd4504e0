package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A VMM of its own ({@link OwnVmm}: its own {@link Vm}, two vCPUs on two threads, its own memory
 * and a device of its own) snapshots its SMP guest mid-run with {@link Snapshot#write(Vm,
 * GuestMemory, List, Path, java.util.function.LongConsumer)} and restores it into a VM it builds
 * afresh in the same process ({@link Snapshot#restoreInto(Vm, GuestMemory, List, Path)}): every
 * vCPU's registers, the device's state and the memory come back, and the guest's vCPUs go on
 * talking through memory to an exact result. The guest is watched through its shared counters, so
 * no verdict depends on the CPU's speed.
 */
class OwnVmSnapshotTest {
    private static final long RAM = 16L << 20;
    private static final int CPUS = 2;
    /** How far the token goes round in each phase (before the snapshot, after the restore). */
    private static final long HOPS = 40;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** A VM as this VMM builds it: RAM at 0, {@code cpus} vCPUs. */
    private static Vm build(Kvm kvm, GuestMemory ram, int cpus) {
        Vm vm = kvm.createVm();
        vm.mapMemory(0, ram);
        for (int i = 0; i < cpus; i++) {
            vm.createVcpu(i);
        }
        return vm;
    }

    @Test
    void aVmmsOwnSmpVmIsSnapshottedAndRestoredIntoAFreshVm(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("own.snap");
        GuestImage image = BuiltinImages.load("smp-counter.elf");
        DeviceSectionsTest.Register device = new DeviceSectionsTest.Register("scratch", 1, (byte) 0x5a, (byte) 0xa5);
        VmContext before;
        long state;
        long tokenAtSnapshot;
        try (Kvm kvm = Kvm.open()) {
            try (GuestMemory ram = GuestMemory.memfd("own-ram", RAM); Vm vm = build(kvm, ram, CPUS)) {
                image.loadInto(ram);
                BootInfo info = BootInfo.single(RAM, 0, Guests.STOP_WORD);
                for (int i = 0; i < CPUS; i++) {
                    BootSetup.longMode(vm.vcpus().get(i), ram, kvm.supportedCpuid(), 3, image.entry(), RAM, info.forCpu(i, CPUS));
                }
                ByteArrayOutputStream out = new ByteArrayOutputStream();
                OwnVmm vmm = new OwnVmm(vm.vcpus(), out).start();
                await(() -> Guests.smpState(vmm.console()) >= 0, "the guest starts", vmm);
                state = Guests.smpState(vmm.console());
                await(() -> ram.getLong(state + 8) >= HOPS, "the token goes round", vmm);
                vmm.stop();
                tokenAtSnapshot = ram.getLong(state + 8);

                before = new VmContext(vm);
                before.capture(vm, List.of(device));
                Snapshot.write(vm, ram, List.of(device), file, done -> {});
            }
            Snapshot.Info info = Snapshot.inspect(file);
            assertFalse(info.isMachine(), "taken from a VMM's own VM");
            assertEquals(CPUS, info.cpus());
            assertEquals(List.of("scratch"), info.devices());

            try (GuestMemory ram = GuestMemory.memfd("own-ram-2", RAM)) {
                DeviceSectionsTest.Register fresh = new DeviceSectionsTest.Register("scratch", 1, (byte) 0, (byte) 0);
                // A VM that does not fit is refused before its memory is touched.
                try (Vm one = build(kvm, ram, 1)) {
                    assertThrows(IllegalArgumentException.class, () -> Snapshot.restoreInto(one, ram, List.of(fresh), file));
                }
                try (Vm two = build(kvm, ram, CPUS); GuestMemory stray = GuestMemory.anonymous(RAM)) {
                    IllegalArgumentException unmapped = assertThrows(IllegalArgumentException.class,
                            () -> Snapshot.restoreInto(two, stray, List.of(fresh), file));
                    assertTrue(unmapped.getMessage().contains("guest-physical 0"), unmapped.getMessage());
                    ContextFormatException e = assertThrows(ContextFormatException.class,
                            () -> Snapshot.restoreInto(two, ram, List.of(), file));
                    assertTrue(e.getMessage().contains("\"scratch\""), e.getMessage());
                }
                assertEquals(0, ram.getLong(image.entry()), "nothing restored into memory by a refused restore");
                ContextFormatException notMachine = assertThrows(ContextFormatException.class,
                        () -> Snapshot.restore(kvm, file, OutputStreamHolder.NULL));
                assertTrue(notMachine.getMessage().contains("Snapshot.restoreInto"), notMachine.getMessage());

                try (Vm vm = build(kvm, ram, CPUS)) {
                    Snapshot.restoreInto(vm, ram, List.of(fresh), file);
                    assertArrayEquals(new byte[] {0x5a, (byte) 0xa5}, fresh.state, "the device's state came back");
                    assertEquals(1, fresh.restoredVersion);
                    VmContext after = new VmContext(vm);
                    after.capture(vm, List.of(fresh));
                    for (int i = 0; i < CPUS; i++) {
                        assertEquals(before.vcpu(i).regs(), after.vcpu(i).regs(), "vCPU " + i + "'s registers");
                        assertEquals(before.vcpu(i).sregs(), after.vcpu(i).sregs(), "vCPU " + i + "'s special registers");
                        assertEquals(before.vcpu(i).xsave(), after.vcpu(i).xsave(), "vCPU " + i + "'s XSAVE area");
                    }
                    assertEquals(tokenAtSnapshot, ram.getLong(state + 8), "the memory came back");

                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    OwnVmm vmm = new OwnVmm(vm.vcpus(), out).start();
                    await(() -> ram.getLong(state + 8) >= tokenAtSnapshot + HOPS, "the restored vCPUs pass the token on", vmm);
                    ram.putLong(Guests.STOP_WORD, 1);
                    vmm.join();
                    String console = vmm.console();
                    assertEquals(0, vmm.status(), console);
                    String last = Guests.line(console, " ok");
                    assertTrue(last.startsWith("smp-counter: cpus=2 token="), console);
                    assertTrue(Guests.number(last, "token=") >= tokenAtSnapshot + HOPS, console);
                    for (Vcpu v : vm.vcpus()) {
                        assertTrue(Guests.number(console, "cpu " + v.id() + " hops=") >= (tokenAtSnapshot + HOPS) / CPUS, console);
                    }
                }
            }
        }
    }

    /** Waits for {@code condition}; two minutes is only a safety net, far beyond any run here. */
    private static void await(BooleanSupplier condition, String what, OwnVmm vmm) throws InterruptedException {
        long giveUp = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - giveUp > 0) {
                vmm.stop();
                throw new AssertionError(what + ": did not happen; console: " + vmm.console());
            }
            Thread.sleep(1);
        }
    }

    /** A console that keeps nothing. */
    private static final class OutputStreamHolder {
        static final java.io.OutputStream NULL = java.io.OutputStream.nullOutputStream();
    }
}
