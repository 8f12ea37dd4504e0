package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.contexts.Switcher;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.ThreadedRunner;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The rings of {@code docs/shared-memory-abi.md} on real KVM: two {@code ring-peer.elf} guests
 * exchanging messages without an exit per message (a host thread per VM, and one thread with
 * switching), Java as a peer through {@link ShmEndpoint}, and {@code shm-hostile.elf}'s ring cases
 * against an honest guest and against Java. Every workload ends on a message count.
 */
class RingsTest {
    private static final int HOST_ROLE_BOTH = 3 << 16;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** Boots one machine per image/args pair on {@code region}, VM i the i-th. */
    private static List<Machine> boot(Kvm kvm, SharedRegion region, List<ByteArrayOutputStream> consoles, String[] images,
                                      long[][] args) {
        List<Machine> machines = new ArrayList<>();
        for (int i = 0; i < images.length; i++) {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            consoles.add(out);
            machines.add(Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load(images[i])).name(images[i] + i).ring(3)
                    .args(args[i]).console(new Console(out, null)).share(region.memory(), region.guestAddress())
                    .vmIndex(i, images.length).build()));
        }
        return machines;
    }

    private static String text(ByteArrayOutputStream out) {
        return out.toString(StandardCharsets.UTF_8);
    }

    /** Byte i of every test message, before its first 8 bytes become the sequence number (shm-ring.h's ring_pattern). */
    static byte pattern(long i) {
        return (byte) ((int) (i * 2654435761L) >>> 24);
    }

    private static void exchange(long messages, long size, boolean oneThread) {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion region = SharedRegion.create("rings", 16 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(region)) {
            long spins = oneThread ? 1 : 0;
            List<Machine> machines = boot(kvm, region, consoles, new String[] {"ring-peer.elf", "ring-peer.elf"},
                    new long[][] {{messages, size, 0, spins}, {messages, size, 0, spins}});
            try {
                hub.connect(machines);
                hub.enableRings();
                List<RunResult> results = oneThread ? new Switcher(machines, Duration.ofMillis(10)).run(Duration.ofMinutes(5))
                        : ThreadedRunner.runAll(machines, Duration.ofMinutes(5));
                for (RunResult r : results) {
                    assertTrue(r.succeeded(), r + "\n" + consoles);
                }
                assertTrue(text(consoles.get(1)).contains("verified=" + messages + " errors=0"), text(consoles.get(1)));
                List<SharedMemoryHub.VmStats> stats = hub.stats();
                assertEquals(messages, stats.get(1).reportedMessages());
                assertEquals(messages * size, stats.get(1).reportedBytes());
                assertEquals(0, stats.get(1).reportedErrors());
                for (SharedMemoryHub.VmStats s : stats) {
                    assertEquals(0, s.sent(), "no message went through the mailbox: " + s);
                    assertEquals(0, s.received(), s.toString());
                    assertTrue(s.allocations() <= 256, "the pool, allocated once: " + s);
                    assertEquals(0, s.refusals(), s.toString());
                    assertEquals(0, s.reclaimedBlocks(), "the guest gave its pool back: " + s);
                }
                assertTrue(text(consoles.get(0)).contains(" pool=" + stats.get(0).allocations() + "\n"),
                        "every ALLOC that succeeded went into the pool: " + text(consoles.get(0)));
                assertEquals(1, hub.allocatorStats().blocksInUse(), "only the ring area is left");
                region.allocator().checkInvariants();
            } finally {
                machines.forEach(Machine::close);
            }
        }
    }

    @Test
    void guestsExchangeSmallMessagesThroughRingsOnAThreadEach() {
        exchange(50_000, 64, false);
    }

    @Test
    void guestsExchangeLargeMessagesThroughRingsOnAThreadEach() {
        exchange(2_000, 65_536, false);
    }

    @Test
    void guestsExchangeThroughRingsOnOneThreadWithSwitching() {
        exchange(5_000, 4_096, true);
    }

    @Test
    void javaAndAGuestExchangeMessagesBothWays() throws Exception {
        int messages = 3_000;
        int size = 1_000; // not a multiple of 64: the guest's compare has a tail
        byte[] expected = new byte[size];
        for (int i = 0; i < size; i++) {
            expected[i] = pattern(i);
        }
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion region = SharedRegion.create("rings-java", 8 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(region)) {
            // The guest's peer is the host: peer + 1 = 2 with one VM.
            List<Machine> machines = boot(kvm, region, consoles, new String[] {"ring-peer.elf"},
                    new long[][] {{messages, size, 2 | HOST_ROLE_BOTH, 0}});
            try {
                hub.connect(machines);
                try (ShmEndpoint host = hub.openEndpoint()) {
                    assertEquals(1, host.index());
                    CompletableFuture<List<RunResult>> run =
                            CompletableFuture.supplyAsync(() -> ThreadedRunner.runAll(machines, Duration.ofMinutes(5)));
                    long sent = 0, got = 0;
                    while (sent < messages || got < messages) {
                        boolean progress = false;
                        ByteBuffer out = sent < messages ? host.claim(0, size) : null;
                        if (out != null) {
                            assertEquals(size, out.capacity());
                            out.put(0, expected).putLong(0, sent);
                            host.send(0);
                            sent++;
                            progress = true;
                        }
                        ByteBuffer in = got < messages ? host.receive(0) : null;
                        if (in != null) {
                            assertTrue(in.isReadOnly() && in.isDirect(), "a view of the guest's block");
                            assertEquals(size, in.remaining());
                            assertEquals(got, in.getLong(0), "messages arrive in order");
                            assertEquals(-1, in.slice(8, size - 8).mismatch(ByteBuffer.wrap(expected, 8, size - 8)),
                                    "message " + got + " has the guest's bytes");
                            host.release(0);
                            got++;
                            progress = true;
                        }
                        if (!progress) {
                            assertTrue(!run.isDone(), () -> "the guest ended first: " + run.join() + "\n" + consoles);
                            host.await(Duration.ofSeconds(1));
                        }
                    }
                    List<RunResult> results = run.get();
                    assertTrue(results.get(0).succeeded(), results + "\n" + consoles);
                    SharedMemoryHub.VmStats guest = hub.stats().get(0);
                    assertEquals(messages, guest.reportedMessages(), "the guest verified every message from Java");
                    assertEquals(0, guest.reportedErrors());
                    assertEquals(0, guest.sent(), guest.toString());
                    assertTrue(host.ended(0));
                }
                assertEquals(1, hub.allocatorStats().blocksInUse(), "the endpoint freed its blocks; the ring area stays");
                region.allocator().checkInvariants();
            } finally {
                machines.forEach(Machine::close);
            }
        }
    }

    @Test
    void hostileRingsBreakOnlyTheirOwnExchange() throws Exception {
        for (int ringCase = 1; ringCase <= 7; ringCase++) {
            boolean incoming = ringCase <= 5; // cases 1-5 break the hostile VM's outgoing ring, 6-7 its incoming one
            hostileAgainstJava(ringCase, incoming);
            hostileAgainstGuest(ringCase, incoming);
        }
    }

    /** VM 0 breaks its rings with the host; Java must refuse them, with a message, and stay usable. */
    private static void hostileAgainstJava(int ringCase, boolean incoming) {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion region = SharedRegion.create("rings-hostile", 1 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(region)) {
            List<Machine> machines = boot(kvm, region, consoles, new String[] {"shm-hostile.elf"}, new long[][] {{2, ringCase}});
            try {
                hub.connect(machines);
                try (ShmEndpoint host = hub.openEndpoint()) {
                    List<RunResult> results = ThreadedRunner.runAll(machines, Duration.ofMinutes(1));
                    String console = text(consoles.get(0));
                    assertEquals(0, results.get(0).status(), console);
                    assertTrue(console.contains("ok ring-area-free") && console.contains("ring case " + ringCase + " written"),
                            console);
                    IllegalStateException e = assertThrows(IllegalStateException.class,
                            () -> {
                                if (incoming) {
                                    host.receive(0);
                                } else {
                                    host.claim(0, 64);
                                }
                            }, "case " + ringCase);
                    assertTrue(e.getMessage().contains(incoming ? "ring VM 0→host is broken" : "ring host→VM 0 is broken"),
                            e.getMessage());
                    SharedMemoryHub.VmStats s = hub.stats().get(0);
                    assertEquals(1L, s.statuses().get("NOT_OWNER"), "the FREE of the ring area: " + s);
                    assertEquals(1, s.refusals(), "nothing else was refused: " + s);
                }
                region.allocator().checkInvariants();
                assertEquals(1, hub.allocatorStats().blocksInUse(), "the ring area only");
            } finally {
                machines.forEach(Machine::close);
            }
        }
    }

    /** VM 0 breaks its rings with VM 1, an honest ring-peer, which must end and say which ring broke. */
    private static void hostileAgainstGuest(int ringCase, boolean incoming) {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion region = SharedRegion.create("rings-hostile", 1 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(region)) {
            // VM 1 receives from VM 0 (cases 1-5) or sends to it (6-7).
            long role = incoming ? 2 << 16 : 1 << 16;
            List<Machine> machines = boot(kvm, region, consoles, new String[] {"shm-hostile.elf", "ring-peer.elf"},
                    new long[][] {{2, ringCase}, {1000, 64, role, 0}});
            try {
                hub.connect(machines);
                // No enableRings: the guests' first RINGS sets the ring area up.
                List<RunResult> results = ThreadedRunner.runAll(machines, Duration.ofMinutes(1));
                String honest = text(consoles.get(1));
                assertEquals(0, results.get(0).status(), text(consoles.get(0)));
                assertEquals(1, results.get(1).status(), "the honest guest ends, with an error: " + honest);
                assertTrue(honest.contains(incoming ? "the peer broke the incoming ring" : "the peer broke the outgoing ring"),
                        "case " + ringCase + ": " + honest);
                region.allocator().checkInvariants();
                assertEquals(1, hub.allocatorStats().blocksInUse(), "both guests' blocks are back; the ring area stays");
            } finally {
                machines.forEach(Machine::close);
            }
        }
    }

    @Test
    void theEndpointRefusesMisuseWithClearErrors() {
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion region = SharedRegion.create("rings-misuse", 1 << 20, SharedRegion.DEFAULT_GUEST_ADDRESS)) {
            SharedMemoryHub hub = new SharedMemoryHub(region);
            List<Machine> machines = boot(kvm, region, consoles, new String[] {"ring-peer.elf"}, new long[][] {{1, 64, 2, 0}});
            try {
                assertThrows(IllegalStateException.class, hub::enableRings, "not connected");
                assertThrows(IllegalStateException.class, hub::openEndpoint, "not connected");
                hub.connect(machines);
                ShmEndpoint host = hub.openEndpoint();
                assertThrows(IllegalStateException.class, hub::openEndpoint, "one endpoint at a time");
                assertThrows(IllegalArgumentException.class, () -> host.claim(1, 64), "no VM 1");
                assertThrows(IllegalArgumentException.class, () -> host.claim(-1, 64));
                assertThrows(IllegalArgumentException.class, () -> host.claim(0, 0));
                assertThrows(IllegalArgumentException.class, () -> host.claim(0, (1 << 20) + 1));
                assertThrows(IllegalStateException.class, () -> host.send(0), "nothing claimed");
                assertThrows(IllegalStateException.class, () -> host.release(0), "nothing received");
                assertThrows(IllegalArgumentException.class, () -> host.await(Duration.ofMillis(-1)));
                assertNull(host.receive(0), "the guest has not run: nothing to receive");
                assertEquals(64, host.claim(0, 64).capacity());
                assertThrows(IllegalStateException.class, () -> host.claim(0, 64), "claimed, not sent");
                host.send(0);
                assertFalse(host.await(Duration.ZERO), "nothing rang");
                host.close();
                host.close();
                for (org.junit.jupiter.api.function.Executable call : List.<org.junit.jupiter.api.function.Executable>of(
                        () -> host.claim(0, 64), () -> host.send(0), () -> host.receive(0), () -> host.release(0),
                        () -> host.await(Duration.ZERO), () -> host.ended(0))) {
                    IllegalStateException e = assertThrows(IllegalStateException.class, call);
                    assertEquals("this endpoint is closed", e.getMessage());
                }
                ShmEndpoint again = hub.openEndpoint();
                assertEquals(1, again.index(), "a new endpoint once the old one is closed");
                hub.close();
                IllegalStateException e = assertThrows(IllegalStateException.class, () -> again.await(Duration.ZERO));
                assertTrue(e.getMessage().contains("hub is closed"), e.getMessage());
                again.close();
                assertEquals(1, region.allocator().stats().blocksInUse(), "the endpoints' blocks are free; the ring area stays");
            } finally {
                machines.forEach(Machine::close);
                hub.close();
            }
        }
    }
}
