package dev.kvmctl.cli.demo;

import dev.kvmctl.Kvm;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.ThreadedRunner;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.guests.shm.Quotas;
import dev.kvmctl.guests.shm.SharedMemoryHub;
import dev.kvmctl.guests.shm.SharedRegion;
import dev.kvmctl.memory.AllocatorStats;
import java.io.OutputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * The two-VM shared-memory demo: a producer VM sends messages of many sizes through the shared
 * region, a consumer VM verifies each one and frees it. {@code kvmctl launch} with no image runs it.
 *
 * <pre>{@code
 * try (Kvm kvm = Kvm.open()) {
 *     SharedMemoryDemo.Report r = SharedMemoryDemo.run(kvm, SharedMemoryDemo.Options.defaults(), System.out);
 *     System.out.println(r.ok() ? "all " + r.messages() + " messages intact" : "failed");
 * }
 * }</pre>
 */
public final class SharedMemoryDemo {
    /** Bytes of a message's header before its payload (vm-images/src/shm-message.h). */
    private static final long MESSAGE_HEADER = 16;

    private SharedMemoryDemo() {}

    /**
     * Demo parameters. {@code runner} runs the machines (threads by default; the switcher for
     * one-thread mode). {@code fixedSize}: every payload is {@code maxMessage} bytes instead of
     * log-uniform in [1, maxMessage]. {@code consumerPolls}: the consumer polls (and yields)
     * instead of waiting for the producer's doorbell. {@code quotas}: each VM's limits on the
     * shared region (the producer pays for every message until the consumer frees it).
     */
    public record Options(long messages, long seed, long sharedSize, long maxMessage, long memorySize, Duration timeout,
                          Function<List<Machine>, List<RunResult>> runner, boolean fixedSize, boolean consumerPolls,
                          Quotas quotas) {
        public static Options defaults() {
            return new Options(1000, 1, 8L << 20, 256L << 10, 16L << 20, Duration.ofSeconds(120), null, false, false,
                    Quotas.defaults());
        }

        public Options withMessages(long v) { return new Options(v, seed, sharedSize, maxMessage, memorySize, timeout, runner, fixedSize, consumerPolls, quotas); }
        public Options withSeed(long v) { return new Options(messages, v, sharedSize, maxMessage, memorySize, timeout, runner, fixedSize, consumerPolls, quotas); }
        public Options withSharedSize(long v) { return new Options(messages, seed, v, maxMessage, memorySize, timeout, runner, fixedSize, consumerPolls, quotas); }
        public Options withMaxMessage(long v) { return new Options(messages, seed, sharedSize, v, memorySize, timeout, runner, fixedSize, consumerPolls, quotas); }
        public Options withMemorySize(long v) { return new Options(messages, seed, sharedSize, maxMessage, v, timeout, runner, fixedSize, consumerPolls, quotas); }
        public Options withTimeout(Duration v) { return new Options(messages, seed, sharedSize, maxMessage, memorySize, v, runner, fixedSize, consumerPolls, quotas); }
        public Options withRunner(Function<List<Machine>, List<RunResult>> v) {
            return new Options(messages, seed, sharedSize, maxMessage, memorySize, timeout, v, fixedSize, consumerPolls, quotas);
        }
        public Options withFixedSize(boolean v) { return new Options(messages, seed, sharedSize, maxMessage, memorySize, timeout, runner, v, consumerPolls, quotas); }
        public Options withConsumerPolls(boolean v) { return new Options(messages, seed, sharedSize, maxMessage, memorySize, timeout, runner, fixedSize, v, quotas); }
        public Options withQuotas(Quotas v) { return new Options(messages, seed, sharedSize, maxMessage, memorySize, timeout, runner, fixedSize, consumerPolls, v); }
    }

    /**
     * What happened: messages and bytes the consumer verified, errors of any kind, the region's
     * state at the end, and each VM's result and hub statistics.
     */
    public record Report(long messagesSent, long messages, long bytes, long errors, int blocksInUseAtEnd, Duration elapsed,
                         AllocatorStats allocator, List<RunResult> vms, List<SharedMemoryHub.VmStats> hub, List<String> problems) {
        /** True when every message arrived intact, both guests succeeded, and no block is left in use. */
        public boolean ok() {
            return problems.isEmpty();
        }

        /** Verified payload throughput in MiB/s over the whole run. */
        public double mibPerSecond() {
            double s = elapsed.toNanos() / 1e9;
            return s == 0 ? 0 : bytes / (1024.0 * 1024.0) / s;
        }
    }

    /** Boots the producer and the consumer on one shared region, runs them, and reports. */
    public static Report run(Kvm kvm, Options o, OutputStream consoleOut) {
        GuestImage producer = BuiltinImages.load("producer.elf");
        GuestImage consumer = BuiltinImages.load("consumer.elf");
        try (SharedRegion region = SharedRegion.create("kvmctl-shared", o.sharedSize(), SharedRegion.DEFAULT_GUEST_ADDRESS);
             SharedMemoryHub hub = new SharedMemoryHub(region, o.quotas())) {
            checkQuota(o, region);
            List<Machine> machines = new ArrayList<>();
            try {
                long sizeArg = o.maxMessage() | (o.fixedSize() ? Long.MIN_VALUE : 0);
                machines.add(Machine.boot(kvm, config(producer, "producer", 0, o, region, consoleOut,
                        o.messages(), o.seed(), sizeArg, 0)));
                machines.add(Machine.boot(kvm, config(consumer, "consumer", 1, o, region, consoleOut,
                        o.messages(), o.seed(), o.consumerPolls() ? 1 : 0, 0)));
                hub.connect(machines);
                long start = System.nanoTime();
                List<RunResult> results = o.runner() != null ? o.runner().apply(machines)
                        : ThreadedRunner.runAll(machines, o.timeout());
                Duration elapsed = Duration.ofNanos(System.nanoTime() - start);
                return report(o, hub, results, elapsed);
            } finally {
                for (Machine m : machines) {
                    m.close();
                }
            }
        }
    }

    /** The largest message must fit the producer's byte quota, or it would wait for space that never comes. */
    private static void checkQuota(Options o, SharedRegion region) {
        long granule = region.granule();
        long quota = o.quotas().resolve(region.size(), granule, 2).bytes();
        long largest = MESSAGE_HEADER + o.maxMessage();
        long block = largest > Long.MAX_VALUE - granule ? Long.MAX_VALUE : (largest + granule - 1) / granule * granule;
        if (block > quota) {
            throw new IllegalArgumentException("a message of up to " + o.maxMessage() + " bytes takes a block of " + block
                    + " bytes, more than the producer's quota of " + quota + " bytes (by default half of the shared region); "
                    + "lower the largest message or raise the byte quota");
        }
    }

    private static GuestConfig config(GuestImage image, String name, int index, Options o, SharedRegion region,
                                      OutputStream out, long... args) {
        return GuestConfig.builder(image).name(name).mode(CpuMode.LONG).ring(3).memorySize(o.memorySize())
                .args(args).console(new Console(out, name)).share(region.memory(), region.guestAddress())
                .vmIndex(index, 2).build();
    }

    private static Report report(Options o, SharedMemoryHub hub, List<RunResult> results, Duration elapsed) {
        List<SharedMemoryHub.VmStats> stats = hub.stats();
        AllocatorStats alloc = hub.allocatorStats();
        SharedMemoryHub.VmStats producer = stats.get(0);
        SharedMemoryHub.VmStats consumer = stats.get(1);
        List<String> problems = new ArrayList<>();
        for (RunResult r : results) {
            if (!r.succeeded()) {
                problems.add(r.name() + " ended " + r.outcome().name().toLowerCase(java.util.Locale.ROOT)
                        + " with status " + r.status() + ": " + r.detail());
            }
        }
        long verified = consumer.reported() ? consumer.reportedMessages() : 0;
        long bytes = consumer.reported() ? consumer.reportedBytes() : 0;
        long guestErrors = consumer.reported() ? consumer.reportedErrors() : 0;
        if (!consumer.reported()) {
            problems.add("the consumer never reported what it verified");
        }
        if (guestErrors > 0) {
            problems.add(guestErrors + " message(s) arrived corrupted");
        }
        if (verified != o.messages()) {
            problems.add("the consumer verified " + verified + " of " + o.messages() + " messages");
        }
        long refusals = producer.refusals() + consumer.refusals();
        if (refusals > 0) {
            problems.add(refusals + " request(s) refused by the host");
        }
        // Blocks a guest still held when it ended were reclaimed by the host; they count as left in use.
        int leftInUse = alloc.blocksInUse() + (int) stats.stream().mapToLong(SharedMemoryHub.VmStats::reclaimedBlocks).sum();
        if (leftInUse != 0) {
            problems.add(leftInUse + " block(s) still in use when the guests ended");
        }
        long errors = guestErrors + refusals + Math.max(0, o.messages() - verified)
                + results.stream().filter(r -> !r.succeeded()).count();
        return new Report(producer.sent(), verified, bytes, errors, leftInUse, elapsed, alloc, results, stats,
                List.copyOf(problems));
    }
}
