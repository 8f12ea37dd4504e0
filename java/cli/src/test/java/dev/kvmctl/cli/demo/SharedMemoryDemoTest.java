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
            assertTrue(r.bytes() > 300, "payload bytes verified");
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
            SharedMemoryDemo.Options o = SharedMemoryDemo.Options.defaults().withMessages(150).withSharedSize(1 << 20)
                    .withMaxMessage(64 << 10).withRunner(machines -> {
                        Switcher s = new Switcher(machines, Duration.ofMillis(1)).addHook(new ContextSwitchHook(SwitchMode.COLD));
                        used.add(s);
                        return s.run(Duration.ofSeconds(120));
                    });
            SharedMemoryDemo.Report r = SharedMemoryDemo.run(kvm, o, OutputStream.nullOutputStream());
            assertTrue(r.ok(), r.problems().toString());
            assertEquals(150, r.messages());
            assertTrue(used.get(0).switches() > 2, "the VMs took turns");
        }
    }
}
