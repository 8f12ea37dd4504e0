import dev.kvmctl.Kvm;
import dev.kvmctl.contexts.Switcher;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.ThreadedRunner;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.guests.shm.SharedMemoryHub;
import dev.kvmctl.guests.shm.SharedRegion;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The VM side of scripts/bench-shm.sh: two ring-peer.elf guests (vm-images/src/ring-peer.c) on
 * one shared region, VM 0 sending MESSAGES messages of SIZE bytes to VM 1 through the rings, with
 * a host thread per VM ("threads") or both on one thread with switching ("one"). Run from the
 * repository root, after the build:
 *
 *   java -cp target/kvmctl.jar scripts/bench/RingBench.java SIZE MESSAGES threads|one
 *
 * Prints "vm-<mode>-<SIZE> <MiB/s> <messages/s>" over the receiver's time from the first message
 * it sees to the last one it releases (its "ticks=", TSC ticks, over the vCPU's TSC frequency:
 * start-up left out, as in the host baseline), or fails when the receiver did not verify every
 * message.
 */
public class RingBench {
    public static void main(String[] args) throws Exception {
        long size = Long.parseLong(args[0]);
        long messages = Long.parseLong(args[1]);
        boolean one = args[2].equals("one");
        long block = (size + 4095) / 4096 * 4096;
        // ring-peer.elf's pool: about 16 MiB of blocks, 16 to 256 of them; its default quota is half the region.
        long pool = Math.min(256, Math.max(16, (16L << 20) / size));
        long region = Math.max(16L << 20, ((2 * (pool * block + (1 << 20))) + (1 << 20) - 1) >> 20 << 20);
        List<ByteArrayOutputStream> consoles = new ArrayList<>();
        try (Kvm kvm = Kvm.open();
             SharedRegion shared = SharedRegion.create("ring-bench", region, SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(shared)) {
            List<Machine> machines = new ArrayList<>();
            try {
                for (int i = 0; i < 2; i++) {
                    ByteArrayOutputStream out = new ByteArrayOutputStream();
                    consoles.add(out);
                    // arg3: idle polls before sleeping; on one thread polling only delays the peer.
                    machines.add(Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("ring-peer.elf"))
                            .name("ring-peer" + i).ring(3).memorySize(32L << 20)
                            .args(messages, size, 0, one ? 1 : 0).console(new Console(out, null))
                            .share(shared.memory(), shared.guestAddress()).vmIndex(i, 2).build()));
                }
                hub.connect(machines);
                hub.enableRings();
                int tscKhz = machines.get(1).vcpu().tscKhz();
                List<RunResult> results = one ? new Switcher(machines, Duration.ofMillis(10)).run(Duration.ofMinutes(10))
                        : ThreadedRunner.runAll(machines, Duration.ofMinutes(10));
                SharedMemoryHub.VmStats receiver = hub.stats().get(1);
                for (RunResult r : results) {
                    if (!r.succeeded() || receiver.reportedMessages() != messages) {
                        throw new IllegalStateException("the exchange failed: " + results + "\n" + consoles);
                    }
                }
                if (System.getenv("RING_BENCH_VERBOSE") != null) {
                    System.err.println(consoles);
                }
                java.util.regex.Matcher ticks = java.util.regex.Pattern.compile(" ticks=(\\d+)").matcher(consoles.get(1).toString());
                if (!ticks.find() || tscKhz <= 0) {
                    throw new IllegalStateException("no ticks= from the receiver, or no TSC frequency (" + tscKhz + " kHz): " + consoles);
                }
                double s = Long.parseLong(ticks.group(1)) / (tscKhz * 1000.0);
                System.out.printf("vm-%s-%d %.1f %.0f%n", one ? "one" : "threads", size,
                        messages * (double) size / (1 << 20) / s, messages / s);
            } finally {
                for (Machine m : machines) {
                    m.close();
                }
            }
        }
    }
}
