package dev.kvmctl.soak;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

/**
 * What this process holds right now, read from {@code /proc/self} and the JVM: open descriptors
 * (all, KVM's anonymous inodes, memfds), mappings of vCPU run pages and memfds, live threads and
 * used heap. Two snapshots taken around a workload show whether it leaked.
 */
public record ProcessResources(long fds, long kvmFds, long memfds, long kvmMappings, long memfdMappings,
                               int threads, long heapUsed) {

    /** Takes a snapshot; with {@code gc}, collects garbage first so the heap figure means something. */
    public static ProcessResources take(boolean gc) {
        if (gc) {
            for (int i = 0; i < 3; i++) {
                System.gc();
                sleep(50);
            }
        }
        long fds = 0, kvmFds = 0, memfds = 0;
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            for (Path p : s.toList()) {
                String target;
                try {
                    target = Files.readSymbolicLink(p).toString();
                } catch (IOException e) {
                    continue; // the directory stream's own fd, closed by now
                }
                fds++;
                if (target.startsWith("anon_inode:kvm-")) {
                    kvmFds++;
                } else if (target.startsWith("/memfd:")) {
                    memfds++;
                }
            }
            List<String> maps = Files.readAllLines(Path.of("/proc/self/maps"));
            long kvmMappings = maps.stream().filter(l -> l.contains("kvm-vcpu")).count();
            long memfdMappings = maps.stream().filter(l -> l.contains("/memfd:")).count();
            int threads = ManagementFactory.getThreadMXBean().getThreadCount();
            Runtime rt = Runtime.getRuntime();
            return new ProcessResources(fds, kvmFds, memfds, kvmMappings, memfdMappings, threads,
                    rt.totalMemory() - rt.freeMemory());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Differences from {@code before} beyond the given slack, as readable lines; empty when nothing
     * leaked. KVM fds, memfds and their mappings must match exactly; other fds may differ by
     * {@code fdSlack} (class loading, log files), threads by {@code threadSlack}, heap by {@code heapSlack} bytes.
     */
    public List<String> leaksSince(ProcessResources before, int fdSlack, int threadSlack, long heapSlack) {
        List<String> problems = new java.util.ArrayList<>();
        if (kvmFds != before.kvmFds) {
            problems.add("KVM fds (anon_inode:kvm-*): " + before.kvmFds + " -> " + kvmFds);
        }
        if (memfds != before.memfds) {
            problems.add("memfd fds: " + before.memfds + " -> " + memfds);
        }
        if (kvmMappings != before.kvmMappings) {
            problems.add("kvm-vcpu mappings: " + before.kvmMappings + " -> " + kvmMappings);
        }
        if (memfdMappings != before.memfdMappings) {
            problems.add("memfd mappings: " + before.memfdMappings + " -> " + memfdMappings);
        }
        if (fds > before.fds + fdSlack) {
            problems.add("open fds: " + before.fds + " -> " + fds + " (slack " + fdSlack + ")");
        }
        if (threads > before.threads + threadSlack) {
            problems.add("threads: " + before.threads + " -> " + threads + " (slack " + threadSlack + ")");
        }
        if (heapUsed - before.heapUsed > heapSlack) {
            problems.add(String.format("heap used: %.1f MiB -> %.1f MiB (slack %.1f MiB)",
                    before.heapUsed / 1048576.0, heapUsed / 1048576.0, heapSlack / 1048576.0));
        }
        return problems;
    }

    @Override
    public String toString() {
        return String.format("fds=%d (kvm %d, memfd %d) mappings(kvm-vcpu %d, memfd %d) threads=%d heap=%.1f MiB",
                fds, kvmFds, memfds, kvmMappings, memfdMappings, threads, heapUsed / 1048576.0);
    }

    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
