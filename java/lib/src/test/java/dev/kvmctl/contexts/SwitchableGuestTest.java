package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.Switchable;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.guests.devices.DeviceState;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The switcher switches anything {@link Switchable}: a guest of a VMM's own ({@link OwnGuest}, no
 * {@code Machine}: its own VM, two vCPUs, a device state of its own) and a {@code Machine}, in one
 * list, cold, each switch capturing every vCPU and the device and restoring them into a brand-new
 * VM. Both SMP guests finish with their exact results; the device's state went through every
 * switch. Ends on counts: switches made and hops of each guest's token.
 */
class SwitchableGuestTest {
    private static final long RAM = 16L << 20;
    private static final long SWITCHES = 20;
    private static final long HOPS = 10;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** A device whose state is one long; counts the restores it gets. */
    static final class Odometer implements DeviceState {
        long value;
        int restores;

        @Override public String name() { return "odometer"; }
        @Override public int version() { return 1; }
        @Override public byte[] save() { return ByteBuffer.allocate(8).putLong(value).array(); }

        @Override
        public void restore(int version, byte[] state) {
            if (state.length != 8) {
                throw new IllegalArgumentException("8 bytes, not " + state.length);
            }
            value = ByteBuffer.wrap(state).getLong();
            restores++;
        }
    }

    @Test
    void aVmmsOwnGuestAndAMachineAreSwitchedColdTogether() {
        GuestImage image = BuiltinImages.load("smp-counter.elf");
        Odometer odometer = new Odometer();
        odometer.value = 0x1234_5678_9abcL;
        ByteArrayOutputStream machineConsole = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); GuestMemory ram = GuestMemory.memfd("own-guest", RAM);
             Machine machine = Machine.boot(kvm, GuestConfig.builder(image).name("machine").mode(CpuMode.LONG).ring(3).cpus(2)
                     .args(0, Guests.STOP_WORD).console(new Console(machineConsole, null)).build())) {
            OwnGuest own = new OwnGuest("own", kvm, ram, 2, odometer);
            try {
                image.loadInto(ram);
                BootInfo info = BootInfo.single(RAM, 0, Guests.STOP_WORD);
                for (int i = 0; i < 2; i++) {
                    BootSetup.longMode(own.requireVm().vcpus().get(i), ram, kvm.supportedCpuid(), 3, image.entry(), RAM,
                            info.forCpu(i, 2));
                }
                long[] counted = {0};
                boolean[] stopped = {false};
                SwitchHook stopper = new SwitchHook() {
                    @Override
                    public void afterSwitchIn(SwitchEvent e) {
                        long a = Guests.smpState(own.console());
                        long b = Guests.smpState(machineConsole.toString());
                        if (stopped[0] || a < 0 || b < 0) {
                            return;
                        }
                        if (++counted[0] >= SWITCHES && ram.getLong(a + 8) >= HOPS && machine.ram().getLong(b + 8) >= HOPS) {
                            ram.putLong(Guests.STOP_WORD, 1);
                            Guests.stop(machine);
                            stopped[0] = true;
                        }
                    }
                };
                ContextSwitchHook contexts = new ContextSwitchHook(SwitchMode.COLD);
                List<Switchable> guests = List.of(own, machine);
                Switcher switcher = new Switcher(guests, Duration.ofMillis(1)).addHook(contexts).addHook(stopper);
                List<RunResult> results = switcher.run(Duration.ofMinutes(2));

                assertEquals(Outcome.EXITED, results.get(0).outcome(), results.get(0) + "\n" + own.console());
                assertEquals(0, results.get(0).status(), own.console());
                assertTrue(own.console().contains("smp-counter: cpus=2 token="), own.console());
                assertEquals(Outcome.EXITED, results.get(1).outcome(), results.get(1) + "\n" + machineConsole);
                assertEquals(0, results.get(1).status(), machineConsole.toString());
                assertTrue(own.vmsBuilt() > SWITCHES / 2, own.vmsBuilt() + " VMs: switched cold");
                assertTrue(odometer.restores >= own.vmsBuilt() - 1, odometer.restores + " restores of the device");
                assertEquals(0x1234_5678_9abcL, odometer.value, "the device's state went through every switch");
                assertEquals(2, contexts.contextOf(own).vcpuCount());
                System.out.printf("own guest and machine: %d cold switches, %d VMs for the own guest%n",
                        switcher.switches(), own.vmsBuilt());
            } finally {
                own.close();
            }
        }
    }
}
