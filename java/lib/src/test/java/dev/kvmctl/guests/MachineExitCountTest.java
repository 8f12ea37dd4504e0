package dev.kvmctl.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@link Machine}'s exit loop counts every exit by its {@link VmExit.Kind} and allocates nothing
 * per exit: a guest that takes tens of thousands of port exits costs the host thread only the
 * few objects of its start and its result.
 */
class MachineExitCountTest {
    private static final int OUTS = 20_000;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /**
     * Long mode, ring 3: {@code OUTS} writes to the unclaimed port 0x500, then status 0 to the
     * exit port.
     */
    private static GuestImage outLoop() {
        byte[] code = {
            0x66, (byte) 0xba, 0x00, 0x05,                          // mov dx, 0x500
            (byte) 0xb9, (byte) (OUTS & 0xff), (byte) (OUTS >> 8), 0, 0, // mov ecx, OUTS
            (byte) 0xee,                                            // L: out dx, al
            (byte) 0xe2, (byte) 0xfd,                               // loop L
            (byte) 0xb0, 0x00,                                      // mov al, 0
            0x66, (byte) 0xba, (byte) 0xf4, 0x00,                   // mov dx, 0xf4
            (byte) 0xee,                                            // out dx, al
        };
        return GuestImage.parse("out-loop", code, 0x100000, 0x100000);
    }

    private static GuestConfig config() {
        return GuestConfig.builder(outLoop()).name("out-loop").mode(CpuMode.LONG).ring(3)
                .console(new Console(new ByteArrayOutputStream(), null)).build();
    }

    @Test
    void exitsAreCountedByKindWithoutAllocating() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        try (Kvm kvm = Kvm.open()) {
            try (Machine warmUp = Machine.boot(kvm, config())) {
                warmUp.run(Duration.ZERO); // lets the JIT compile the loop
            }
            RunResult r;
            long allocated;
            try (Machine m = Machine.boot(kvm, config())) {
                long before = threads.getThreadAllocatedBytes(self);
                r = m.run(Duration.ZERO); // no limit: the guest ends by itself
                allocated = threads.getThreadAllocatedBytes(self) - before;
            }
            assertEquals(Outcome.EXITED, r.outcome(), r.detail());
            assertEquals(0, r.status());
            // The loop's writes and the exit port's; KVM may add interrupted exits, nothing else.
            assertEquals(OUTS + 1, r.exitsByKind().get(VmExit.Kind.IO_OUT.label()), r.exitsByKind().toString());
            assertEquals(OUTS, r.unclaimedPortWrites());
            for (Map.Entry<String, Long> e : r.exitsByKind().entrySet()) {
                assertTrue(e.getKey().equals("io-out") || e.getKey().equals("interrupted"), "unexpected exits: " + r.exitsByKind());
            }
            // The run's start and its result take a few KB; one small object per exit would be > 300 KB.
            assertTrue(allocated < 64 << 10, allocated + " bytes allocated over " + (OUTS + 1) + " exits");
        }
    }
}
