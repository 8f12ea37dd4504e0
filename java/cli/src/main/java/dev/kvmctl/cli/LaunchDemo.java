package dev.kvmctl.cli;

import dev.kvmctl.Kvm;
import dev.kvmctl.cli.demo.SharedMemoryDemo;
import dev.kvmctl.contexts.SwitchMode;
import dev.kvmctl.guests.shm.Quotas;
import dev.kvmctl.guests.shm.SharedMemoryHub;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The demo mode of {@code kvmctl launch} (no {@code --image}): a producer VM and a consumer VM
 * exchange messages through one shared region ({@link SharedMemoryDemo}), switched on this thread
 * or each on its own; prints the figures, and with {@code --json} its report.
 */
final class LaunchDemo {
    private LaunchDemo() {}

    /** Runs the demo with {@code c}'s options; 0 if every message arrived intact, else {@link Main#KVM_ERROR}. */
    static int run(LaunchCommand c) {
        SharedMemoryDemo.Options o = SharedMemoryDemo.Options.defaults().withMessages(c.messages).withSeed(c.seed);
        if (c.sharedSize != null) {
            o = o.withSharedSize(c.sharedSize);
        }
        if (c.maxMessage != null) {
            o = o.withMaxMessage(c.maxMessage);
        }
        if (c.memory != null) {
            o = o.withMemorySize(c.memory);
        }
        o = o.withFixedSize(c.fixedSize).withConsumerPolls(c.poll).withQuotas(new Quotas(c.quotaBlocks, c.quotaBytes));
        if (c.timeout != null) {
            o = o.withTimeout(c.timeout);
        }
        Switching[] switching = new Switching[1];
        if (!c.threads) {
            SwitchMode mode = LaunchCommand.parseSwitchMode(c.switchMode);
            Duration limit = o.timeout();
            o = o.withRunner(machines -> (switching[0] = new Switching(machines, c.quantum, mode)).run(limit));
        }
        if (o.maxMessage() < 1 || o.maxMessage() > o.sharedSize() / 2) { // --messages is checked in LaunchChecks
            throw new IllegalArgumentException("--max-message must be between 1 and half of --shared-size");
        }
        try (Kvm kvm = Kvm.open(c.common.device)) {
            SharedMemoryDemo.Report r = SharedMemoryDemo.run(kvm, o, System.out);
            System.out.printf("demo: %d messages, %.1f MiB verified in %.2f s (%.1f MiB/s), %d errors%n",
                    r.messages(), r.bytes() / 1048576.0, r.elapsed().toNanos() / 1e9, r.mibPerSecond(), r.errors());
            System.out.printf("allocator: %d blocks in use at the end, %d idle, largest idle block %d bytes, fragmentation %.3f%n",
                    r.blocksInUseAtEnd(), r.allocator().idleBlocks(), r.allocator().largestIdleBlock(), r.allocator().fragmentation());
            for (String problem : r.problems()) {
                System.err.println("kvmctl: demo: " + problem);
            }
            r.vms().forEach(Reports::explain);
            if (switching[0] != null) {
                System.out.println(switching[0].summary());
            }
            if (c.common.json) {
                Map<String, Object> report = report(r, c.poll);
                if (switching[0] != null) {
                    report.put("switching", switching[0].report());
                }
                Reports.print(report, List.of()); // the demo's consoles are prefixed: their lines are complete
            }
            return r.ok() ? 0 : Main.KVM_ERROR;
        }
    }

    /** The demo's {@code --json} report. */
    private static Map<String, Object> report(SharedMemoryDemo.Report r, boolean pollMode) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("demo", "shared-memory");
        m.put("ok", r.ok());
        m.put("consumer", pollMode ? "polls" : "waits for the doorbell");
        m.put("messages", r.messages());
        m.put("messages_sent", r.messagesSent());
        m.put("bytes", r.bytes());
        m.put("errors", r.errors());
        m.put("blocks_in_use_at_end", r.blocksInUseAtEnd());
        m.put("elapsed_ms", r.elapsed().toNanos() / 1e6);
        m.put("throughput_mib_s", r.mibPerSecond());
        Map<String, Object> alloc = new LinkedHashMap<>();
        alloc.put("region_size", r.allocator().regionSize());
        alloc.put("blocks_in_use", r.allocator().blocksInUse());
        alloc.put("idle_blocks", r.allocator().idleBlocks());
        alloc.put("bytes_in_use", r.allocator().bytesInUse());
        alloc.put("largest_idle_block", r.allocator().largestIdleBlock());
        alloc.put("fragmentation", r.allocator().fragmentation());
        m.put("allocator", alloc);
        List<Object> vms = new ArrayList<>();
        for (int i = 0; i < r.vms().size(); i++) {
            Map<String, Object> vm = Reports.of(r.vms().get(i));
            SharedMemoryHub.VmStats h = r.hub().get(i);
            Map<String, Object> shm = new LinkedHashMap<>();
            shm.put("calls", h.calls());
            shm.put("requests", h.requests());
            shm.put("allocations", h.allocations());
            shm.put("sent", h.sent());
            shm.put("received", h.received());
            shm.put("statuses", h.statuses());
            shm.put("reclaimed_blocks", h.reclaimedBlocks());
            vm.put("shared_memory", shm);
            vms.add(vm);
        }
        m.put("vms", vms);
        m.put("problems", r.problems());
        return m;
    }
}
