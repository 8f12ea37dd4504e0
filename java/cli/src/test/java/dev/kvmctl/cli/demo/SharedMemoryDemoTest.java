package dev.kvmctl.cli.demo;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.contexts.ContextSwitchHook;
import dev.kvmctl.contexts.SwitchMode;
import dev.kvmctl.contexts.Switcher;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The demo {@code kvmctl launch} runs, on real KVM: a producer and a consumer VM exchange messages
 * through the shared region, on a thread each and on one thread with cold switches.
 */
class SharedMemoryDemoTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void producerAndConsumerExchangeMessagesOnThreads() {
        try (Kvm kvm = Kvm.open()) {
            SharedMemoryDemo.Report r = SharedMemoryDemo.run(kvm,
                    SharedMemoryDemo.Options.defaults().withMessages(300).withSeed(7), OutputStream.nullOutputStream());
            assertTrue(r.ok(), r.problems().toString());
            assertEquals(300, r.messages());
            assertEquals(300, r.messagesSent());
            assertEquals(payloadBytes(7, 300, SharedMemoryDemo.Options.defaults().maxMessage()), r.bytes(),
                    "payload bytes verified: every message's size as shm-message.h draws it");
            assertEquals(0, r.errors());
            assertEquals(0, r.blocksInUseAtEnd());
            assertEquals(0, r.allocator().blocksInUse());
            assertEquals(1, r.allocator().idleBlocks(), "freed blocks merged back into one");
        }
    }

    @Test
    void theDemoRunsOnOneThreadWithColdSwitches() {
        try (Kvm kvm = Kvm.open()) {
            List<Switcher> used = new ArrayList<>();
            List<ContextSwitchHook> hooks = new ArrayList<>();
            SharedMemoryDemo.Options o = SharedMemoryDemo.Options.defaults().withMessages(150).withSharedSize(1 << 20)
                    .withMaxMessage(64 << 10).withRunner(machines -> {
                        ContextSwitchHook cold = new ContextSwitchHook(SwitchMode.COLD);
                        Switcher s = new Switcher(machines, Duration.ofMillis(1)).addHook(cold);
                        used.add(s);
                        hooks.add(cold);
                        try {
                            return s.run(Duration.ofSeconds(120));
                        } finally {
                            cold.close();
                        }
                    });
            SharedMemoryDemo.Report r = SharedMemoryDemo.run(kvm, o, OutputStream.nullOutputStream());
            assertTrue(r.ok(), r.problems().toString());
            assertEquals(150, r.messages());
            long seed = SharedMemoryDemo.Options.defaults().seed();
            assertEquals(payloadBytes(seed, 150, 64 << 10), r.bytes(), "payload bytes verified");
            // The 150 messages (headers included) do not fit in the 1 MiB region at once, so the
            // producer, which runs first, cannot send them all before the consumer frees some: the
            // consumer runs, the producer runs again, and the consumer runs again for the last
            // messages. At least four switch-ins, each after the first two a cold restore.
            assertTrue(payloadBytes(seed, 150, 64 << 10) + 150 * 16 > 1 << 20, "the messages exceed the region");
            Switcher s = used.get(0);
            assertTrue(s.switches() >= 4, "the VMs took turns: " + s.switches() + " switches");
            assertEquals(s.switches() - 2, hooks.get(0).restoreLatency().count(), "each switch-in after the first two restored a context");
        }
    }

    /** Total payload bytes of messages 0..n-1: shm-message.h's msg_payload_size, in Java. */
    static long payloadBytes(long seed, int n, long max) {
        long total = 0;
        int buckets = 32 - Integer.numberOfLeadingZeros((int) max);
        for (int seq = 0; seq < n; seq++) {
            long r = mix(mix(seed ^ 0x5a5a5a5a5a5a5a5aL) + seq);
            long e = Long.remainderUnsigned(r, buckets);
            long lo = 1L << e;
            long hi = Math.min(2 * lo - 1, max);
            total += lo + Long.remainderUnsigned(r >>> 32, hi - lo + 1);
        }
        return total;
    }

    private static long mix(long z) {
        z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
        z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
        return z ^ (z >>> 31);
    }
}
