package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.state.Msrs;
import java.io.ByteArrayOutputStream;
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

    private static final int MSR_IA32_TSC = 0x10;

    /**
     * The vCPU context's bytes with the TSC, which runs on between two captures, zeroed: in a copy,
     * so that the context itself, which the test restores, keeps its TSC.
     */
    static byte[] timeless(Kvm kvm, boolean irqchip, VcpuContext ctx) {
        VcpuContext copy = new VcpuContext(kvm, irqchip);
        copy.copyFrom(ctx);
        Msrs msrs = copy.msrs();
        for (int i = 0; i < msrs.count(); i++) {
            if (msrs.index(i) == MSR_IA32_TSC) {
                msrs.value(i, 0);
            }
        }
        return copy.encode();
    }

    static long tsc(VcpuContext ctx) {
        return ctx.msrs().find(MSR_IA32_TSC).orElseThrow(() -> new AssertionError("the context holds no TSC"));
    }

    @ParameterizedTest(name = "irqchip={0}")
    @ValueSource(booleans = {false, true})
    void captureRestoreCaptureIsExact(boolean irqchip) {
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Guests.sseUntilStopped(kvm, console, irqchip)) {
            Guests.runIntoLoop(m, console, Guests.SSE_COMPUTING);
            long start = System.nanoTime();
            MachineContext first = new MachineContext(m);
            first.capture(m);
            assertTrue(first.vcpu().regs().rip() >= 0x100000, "stopped inside the guest's code");
            byte[] firstBytes = timeless(kvm, irqchip, first.vcpu());
            long firstTsc = tsc(first.vcpu());

            // Warm: back into the same vCPU.
            first.restore(m);
            MachineContext again = new MachineContext(m);
            again.capture(m);
            assertArrayEquals(firstBytes, timeless(kvm, irqchip, again.vcpu()), "warm round trip");

            // Cold: a brand-new VM and vCPU over the same memory.
            m.rebuildVm();
            MachineContext fresh = new MachineContext(m);
            fresh.capture(m);
            assertNotEquals(first.vcpu().regs(), fresh.vcpu().regs(), "a new vCPU starts in its reset state");
            first.restore(m);
            MachineContext cold = new MachineContext(m);
            cold.capture(m);
            long elapsedNanos = System.nanoTime() - start;
            assertArrayEquals(firstBytes, timeless(kvm, irqchip, cold.vcpu()), "cold round trip");
            assertEquals(first.vcpu().regs(), cold.vcpu().regs());
            assertEquals(first.vcpu().sregs(), cold.vcpu().sregs());
            assertEquals(first.vcpu().xsave(), cold.vcpu().xsave(), "x87/SSE/AVX state");
            // The TSC was restored: it went on from the captured value by no more than the time
            // that passed (a new vCPU's TSC starts near 0 on hardware KVM). Under KVM's PVM backend
            // the guest TSC is the host's, so this holds there with or without the restore.
            long cycles = tsc(cold.vcpu()) - firstTsc;
            long khz = first.vcpu().tscKhz();
            long bound = elapsedNanos / 1000 * khz / 1000 * 101 / 100 + khz; // 1% and 1 ms of slack
            assertTrue(cycles >= 0 && cycles <= bound, "TSC moved by " + cycles + " cycles in " + elapsedNanos
                    + " ns (at most " + bound + ")");
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
        ByteArrayOutputStream console = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = Guests.sseUntilStopped(kvm, console, false)) {
            Guests.runIntoLoop(m, console, Guests.SSE_COMPUTING);
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
