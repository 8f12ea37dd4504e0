package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.state.Msrs;
import java.io.ByteArrayOutputStream;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Capture, restore, capture again: every part of a context comes back byte for byte. */
class ContextRoundTripTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** Runs the machine for about {@code millis} of guest time, stopping it mid-computation. */
    static void runFor(Machine m, long millis) {
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor();
        try {
            timer.schedule(m.vcpu()::kick, millis, TimeUnit.MILLISECONDS);
            assertInstanceOf(Machine.Preempted.class, m.runSlice(), "still computing when stopped");
        } finally {
            timer.shutdownNow();
        }
    }

    /** The vCPU context's bytes with the TSC, which runs on between two captures, zeroed. */
    static byte[] timeless(VcpuContext ctx) {
        Msrs msrs = ctx.msrs();
        for (int i = 0; i < msrs.count(); i++) {
            if (msrs.index(i) == 0x10) {
                msrs.value(i, 0);
            }
        }
        return ctx.encode();
    }

    @ParameterizedTest(name = "irqchip={0}")
    @ValueSource(booleans = {false, true})
    void captureRestoreCaptureIsExact(boolean irqchip) {
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", new ByteArrayOutputStream(), irqchip, 3000)) {
            runFor(m, 30);
            MachineContext first = new MachineContext(m);
            first.capture(m);
            assertTrue(first.vcpu().regs().rip() >= 0x100000, "stopped inside the guest's code");
            byte[] firstBytes = timeless(first.vcpu());

            // Warm: back into the same vCPU.
            first.restore(m);
            MachineContext again = new MachineContext(m);
            again.capture(m);
            assertArrayEquals(firstBytes, timeless(again.vcpu()), "warm round trip");

            // Cold: a brand-new VM and vCPU over the same memory.
            m.rebuildVm();
            MachineContext fresh = new MachineContext(m);
            fresh.capture(m);
            assertNotEquals(first.vcpu().regs(), fresh.vcpu().regs(), "a new vCPU starts in its reset state");
            first.restore(m);
            MachineContext cold = new MachineContext(m);
            cold.capture(m);
            assertArrayEquals(firstBytes, timeless(cold.vcpu()), "cold round trip");
            assertEquals(first.vcpu().regs(), cold.vcpu().regs());
            assertEquals(first.vcpu().sregs(), cold.vcpu().sregs());
            assertEquals(first.vcpu().xsave(), cold.vcpu().xsave(), "x87/SSE/AVX state");
            if (irqchip) {
                Sections a = Sections.decode(first.hypervisor().encode());
                Sections b = Sections.decode(cold.hypervisor().encode());
                assertArrayEquals(a.get(Sections.PIC_MASTER), b.get(Sections.PIC_MASTER));
                assertArrayEquals(a.get(Sections.PIC_SLAVE), b.get(Sections.PIC_SLAVE));
                assertArrayEquals(a.get(Sections.IOAPIC), b.get(Sections.IOAPIC));
                assertTrue(b.has(Sections.PIT) && b.has(Sections.LAPIC) == false, "PIT saved at the VM level");
                assertTrue(Sections.decode(cold.vcpu().encode()).has(Sections.LAPIC), "LAPIC saved with the vCPU");
            }
            assertTrue(cold.hypervisor().clockNanos() >= first.hypervisor().clockNanos(), "the KVM clock was restored, not reset");
        }
    }

    @Test
    void encodedContextsDecodeToTheSameState() {
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "sse-compute.elf", new ByteArrayOutputStream(), false, 3000)) {
            runFor(m, 20);
            MachineContext ctx = new MachineContext(m);
            ctx.capture(m);
            byte[] encoded = ctx.encode();
            MachineContext copy = new MachineContext(m);
            copy.decode(encoded);
            assertArrayEquals(encoded, copy.encode());

            byte[] damaged = encoded.clone();
            damaged[damaged.length / 2] ^= 0x40;
            MachineContext untouched = new MachineContext(m);
            byte[] before = untouched.encode();
            assertThrows(ContextFormatException.class, () -> untouched.decode(damaged));
            assertArrayEquals(before, untouched.encode(), "a refused context changes nothing");
        }
    }

    @Test
    void contextsWithAndWithoutIrqchipDoNotMix() {
        try (Kvm kvm = Kvm.open();
             Machine plain = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), false);
             Machine chip = Guests.boot(kvm, "hello-long.elf", new ByteArrayOutputStream(), true)) {
            MachineContext ctx = new MachineContext(plain);
            ctx.capture(plain);
            MachineContext other = new MachineContext(chip);
            ContextFormatException e = assertThrows(ContextFormatException.class, () -> other.decode(ctx.encode()));
            assertTrue(e.getMessage().contains("irqchip"), e.getMessage());
        }
    }
}
