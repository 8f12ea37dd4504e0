package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.VmExit;
import dev.kvmctl.contexts.ContextSwitchHook;
import dev.kvmctl.contexts.SwitchMode;
import dev.kvmctl.contexts.Switcher;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.ThreadedRunner;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.memory.SharedRegion;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Two or more VMs on one shared region, on real KVM: data, isolation, hostile guests, failures. */
class SharedMemoryTest {
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
                        return s.run(Duration.ofSeconds(120));
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

    /** Boots {@code count} VMs running {@code image} on one region and connects them. */
    private static List<Machine> boot(Kvm kvm, SharedRegion region, SharedMemoryHub hub, String image, int count,
                                      List<ByteArrayOutputStream> consoles, long... args) {
        List<Machine> machines = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            consoles.add(out);
            machines.add(Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load(image)).name(image + i).ring(3)
                    .args(args).console(new Console(out, null)).share(region.memory(), region.guestAddress())
                    .vmIndex(i, count).build()));
        }
        hub.connect(machines);
        return machines;
    }

    @Test
    void hostileRequestsGetErrorCodesAndHarmNothing() {
        for (int vms = 1; vms <= 3; vms++) {
            List<ByteArrayOutputStream> consoles = new ArrayList<>();
            try (Kvm kvm = Kvm.open();
                 SharedRegion region = SharedRegion.create("hostile", 1 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
                 SharedMemoryHub hub = new SharedMemoryHub(region)) {
                List<Machine> machines = boot(kvm, region, hub, "shm-hostile.elf", vms, consoles);
                try {
                    List<RunResult> results = ThreadedRunner.runAll(machines, Duration.ofSeconds(60));
                    for (int i = 0; i < vms; i++) {
                        String out = consoles.get(i).toString();
                        assertEquals(Outcome.EXITED, results.get(i).outcome(), out);
                        assertEquals(0, results.get(i).status(), "failed checks in VM " + i + ":\n" + out);
                        assertTrue(out.contains(" checks, 0 failures"), out);
                    }
                    for (SharedMemoryHub.VmStats s : hub.stats()) {
                        assertEquals(7, s.reclaimedBlocks(), "the blocks it left behind were reclaimed");
                        assertTrue(s.refusals() > 10, "its hostile requests were refused: " + s.statuses());
                        assertTrue(s.badMailboxAddresses() >= 1);
                    }
                    assertEquals(0, region.allocator().stats().blocksInUse());
                    region.allocator().checkInvariants();
                } finally {
                    machines.forEach(Machine::close);
                }
            }
        }
    }

    @Test
    void aFaultingProducerLeavesTheConsumerRunningAndItsBlocksReclaimed() {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion region = SharedRegion.create("fault", 4 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(region)) {
            List<Machine> machines = new ArrayList<>();
            try {
                machines.add(vm(kvm, region, "producer.elf", 0, consoles, 200, 3, 16 << 10, 50));
                machines.add(vm(kvm, region, "consumer.elf", 1, consoles, 200, 3));
                hub.connect(machines);
                List<RunResult> results = ThreadedRunner.runAll(machines, Duration.ofSeconds(60));
                assertEquals(Outcome.FAULTED, results.get(0).outcome(), "the producer faulted after 50 messages");
                assertEquals(Outcome.EXITED, results.get(1).outcome(), consoles.get(1).toString());
                assertTrue(consoles.get(1).toString().contains("verified=50 "), consoles.get(1).toString());
                SharedMemoryHub.VmStats producer = hub.stats().get(0);
                SharedMemoryHub.VmStats consumer = hub.stats().get(1);
                assertTrue(producer.reclaimedBlocks() > 0, "the faulted producer held blocks");
                assertEquals(0, consumer.reportedErrors(), "every message it got was intact");
                assertEquals(0, region.allocator().stats().blocksInUse());
            } finally {
                machines.forEach(Machine::close);
            }
        }
    }

    @Test
    void aClosedConsumerLetsTheProducerEndCleanly() throws Exception {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion region = SharedRegion.create("close", 1 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(region)) {
            Machine producer = vm(kvm, region, "producer.elf", 0, consoles, 1_000_000, 5, 64 << 10, 0);
            Machine consumer = vm(kvm, region, "consumer.elf", 1, consoles, 1_000_000, 5);
            try {
                hub.connect(List.of(producer, consumer));
                Thread p = new Thread(() -> producer.run(Duration.ofSeconds(60)));
                Thread c = new Thread(() -> consumer.run(Duration.ofSeconds(60)));
                p.start();
                c.start();
                Thread.sleep(300);
                consumer.requestStop();
                c.join();
                p.join(60_000);
                assertEquals(Outcome.STOPPED, consumer.result().outcome());
                assertTrue(producer.finished(), "the producer noticed its peer is gone");
                assertEquals(1, producer.result().status(), consoles.get(0).toString());
                assertEquals(0, region.allocator().stats().blocksInUse(), "both VMs' blocks went back");
            } finally {
                producer.close();
                consumer.close();
            }
        }
    }

    private static Machine vm(Kvm kvm, SharedRegion region, String image, int index, List<ByteArrayOutputStream> consoles,
                              long... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        consoles.add(out);
        return Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load(image)).name(image).ring(3).args(args)
                .console(new Console(out, null)).share(region.memory(), region.guestAddress()).vmIndex(index, 2).build());
    }

    @Test
    void writesOutsideTheSlotNeverReachAnotherVm() {
        // VM A writes into its own RAM and just past the end of the shared slot; VM B's RAM and
        // the region stay as they were.
        long base = SharedRegion.DEFAULT_GUEST_ADDRESS;
        try (Kvm kvm = Kvm.open(); SharedRegion region = SharedRegion.create("iso", 1 << 20, base)) {
            byte[] code = {
                (byte) 0xc6, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00, 0x77,                  // mov byte [0x300000], 0x77
                0x48, (byte) 0xb8, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00, 0x00, 0x00,     // mov rax, base + 1 MiB
                (byte) 0xc6, 0x00, 0x66,                                                // mov byte [rax], 0x66
                (byte) 0xe6, (byte) 0xf4,                                               // out 0xf4, al
            };
            GuestImage image = GuestImage.parse("writer", code, 0x100000, 0x100000);
            Console quiet = new Console(OutputStream.nullOutputStream(), null);
            try (Machine a = Machine.boot(kvm, GuestConfig.builder(image).ring(3).console(quiet)
                         .share(region.memory(), base).build());
                 Machine b = Machine.boot(kvm, GuestConfig.builder(image).ring(3).console(quiet)
                         .share(region.memory(), base).build())) {
                VmExit exit = a.vcpu().run();
                VmExit.MmioWrite w = assertInstanceOf(VmExit.MmioWrite.class, exit, "past the slot is unbacked: " + exit);
                assertEquals(base + (1 << 20), w.address());
                assertEquals(0x77, a.ram().getByte(0x300000));
                assertEquals(0, b.ram().getByte(0x300000), "A's RAM is its own");
                assertTrue(region.memory().isZero(0, region.size()), "nothing landed in the region");
            }
        }
    }
}
