package dev.kvmctl.cli;

import dev.kvmctl.Kvm;
import dev.kvmctl.contexts.DiffSnapshot;
import dev.kvmctl.contexts.Snapshot;
import dev.kvmctl.contexts.SwitchMode;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.ThreadedRunner;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.guests.shm.Quotas;
import dev.kvmctl.guests.shm.SharedMemoryHub;
import dev.kvmctl.guests.shm.SharedRegion;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.LongConsumer;
import java.util.function.ToIntFunction;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code kvmctl launch} (its options: {@link LaunchSpec}): boots guest images and shows their
 * consoles; with no image, the shared-memory demo. One mode per run, chosen in {@link #call()} after {@link LaunchChecks}:
 * the images mode ({@code runImages}), the snapshot mode ({@code runToSnapshot}, with
 * {@code --snapshot}), both over the machines {@code boot} makes, or the demo ({@link LaunchDemo}).
 */
final class LaunchCommand implements Callable<Integer> {
    /** --timeout with --image when none is given. */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    // The options' values, as LaunchSpec's options set them (see there for what each means).
    List<String> images = new ArrayList<>();
    String mode;
    Integer ring;
    Long memory;
    Long loadAddress;
    Long entry;
    List<Long> args = new ArrayList<>();
    Duration timeout;
    long messages;
    long seed;
    Long sharedSize;
    long quotaBlocks;
    long quotaBytes;
    Long maxMessage;
    boolean fixedSize;
    boolean poll;
    boolean oneThread;
    boolean threads;
    Duration quantum = Duration.ofMillis(1);
    String switchMode = "warm";
    Duration snapshotAfter;
    Path snapshot;
    Path diffBase;
    boolean irqchip;
    int cpus = 1;
    final CommonOptions common = new CommonOptions();
    /** The model LaunchSpec built for this command, for the parse result: which options were given. */
    CommandSpec spec;

    @Override
    public Integer call() {
        LaunchChecks.check(this, spec.commandLine().getParseResult());
        if (images.isEmpty()) {
            return LaunchDemo.run(this);
        }
        Duration limit = timeout != null ? timeout : DEFAULT_TIMEOUT;
        List<GuestConfig.Builder> configs = new ArrayList<>();
        for (String image : images) {
            configs.add(config(image, images.size() > 1)); // every image read and checked before anything is created
        }
        return boot(configs, snapshot != null ? machines -> runToSnapshot(machines.get(0), limit)
                : machines -> runImages(machines, limit));
    }

    /**
     * Boots one machine per config, with the shared region and its hub when {@code --shared-size}
     * is given, hands them to {@code mode} (images or snapshot) and closes them all, whatever
     * happens. Returns the mode's exit status.
     */
    private int boot(List<GuestConfig.Builder> configs, ToIntFunction<List<Machine>> mode) {
        SharedRegion region = sharedSize == null ? null
                : SharedRegion.create("kvmctl-shared", sharedSize, SharedRegion.DEFAULT_GUEST_ADDRESS);
        SharedMemoryHub hub = region == null ? null : new SharedMemoryHub(region, new Quotas(quotaBlocks, quotaBytes));
        try (Kvm kvm = Kvm.open(common.device)) {
            List<Machine> machines = new ArrayList<>();
            try {
                for (int i = 0; i < configs.size(); i++) {
                    GuestConfig.Builder b = configs.get(i);
                    if (region != null) {
                        b.share(region.memory(), region.guestAddress()).vmIndex(i, configs.size());
                    }
                    machines.add(Machine.boot(kvm, b.build()));
                }
                if (hub != null) {
                    hub.connect(machines);
                }
                return mode.applyAsInt(machines);
            } finally {
                machines.forEach(Machine::close);
                if (hub != null) {
                    hub.close();
                    region.close();
                }
            }
        }
    }

    /** The images mode: runs the machines to their ends (each on its own thread, or switched on this one) and reports. */
    private int runImages(List<Machine> machines, Duration limit) {
        Switching switching = oneThread ? new Switching(machines, quantum, parseSwitchMode(switchMode)) : null;
        List<RunResult> results = switching != null ? switching.run(limit)
                : machines.size() == 1 ? List.of(machines.get(0).run(limit))
                : ThreadedRunner.runAll(machines, limit);
        return report(results, switching, machines);
    }

    private GuestConfig.Builder config(String image, boolean prefixed) {
        Path file = Paths.get(image);
        long ram = memory != null ? memory : GuestConfig.DEFAULT_MEMORY;
        BuiltinImages.Image builtin = Files.exists(file) ? null : BuiltinImages.find(image).orElse(null);
        if (builtin == null && !Files.exists(file)) {
            throw new IllegalArgumentException("no image file '" + image + "' and no built-in image of that name (see 'kvmctl images')");
        }
        CpuMode cpuMode = mode != null ? parseMode(mode) : builtin != null ? builtin.mode() : CpuMode.LONG;
        int cpuRing = ring != null ? ring : builtin != null ? builtin.ring() : 0;
        if (cpuMode == CpuMode.REAL && cpuRing != 0) {
            throw new IllegalArgumentException("--ring applies to long mode only");
        }
        if (cpuMode == CpuMode.REAL && cpus > 1) {
            throw new IllegalArgumentException("--cpus " + cpus + ": SMP guests boot in long mode only; " + image
                    + " runs in real mode, with one vCPU");
        }
        long load = loadAddress != null ? loadAddress : cpuMode.defaultLoadAddress();
        long start = entry != null ? entry : load;
        GuestImage guest = builtin != null
                ? GuestImage.parse(builtin.file(), BuiltinImages.bytes(builtin), load, start)
                : GuestImage.read(file, load, start, ram);
        String name = file.getFileName() != null ? file.getFileName().toString() : image;
        GuestConfig.Builder b = GuestConfig.builder(guest).name(name).mode(cpuMode).ring(cpuRing)
                .args(args.stream().mapToLong(Long::longValue).toArray())
                .console(new Console(System.out, prefixed ? name : null));
        if (memory != null) {
            b.memorySize(memory);
        }
        return b.irqchip(irqchip).cpus(cpus);
    }

    static CpuMode parseMode(String text) {
        try {
            return CpuMode.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--mode must be 'real' or 'long', not '" + text + "'");
        }
    }

    /** The snapshot mode: runs the one machine until {@code --snapshot-after}, then saves it to {@code --snapshot}. */
    private int runToSnapshot(Machine machine, Duration limit) {
        ScheduledStop stop = ScheduledStop.after(machine, snapshotAfter);
        RunResult r;
        try {
            r = machine.run(limit);
        } finally {
            stop.cancel();
        }
        if (r.outcome() != Outcome.STOPPED) {
            System.err.println("kvmctl: " + r.name() + " ended before --snapshot-after (" + r.detail() + "); no snapshot written");
            report(List.of(r), null, List.of(machine));
            return r.status() != 0 ? Reports.exitStatus(r.status()) : Main.USAGE_ERROR;
        }
        long total = machine.ram().size();
        // A failed write is an UncheckedIOException naming the file: Main reports it as status 1.
        LongConsumer progress = done -> System.err.printf("snapshot: %d/%d MiB%n", done >> 20, total >> 20);
        long size = diffBase != null ? DiffSnapshot.write(machine, diffBase, snapshot, progress)
                : Snapshot.write(machine, snapshot, progress);
        // The file's length: zero pages are holes, so du shows less (Java cannot read st_blocks portably).
        System.err.printf("snapshot: %s written (%d MiB of RAM, %d bytes, sparse: zero pages take no disk); continue with 'kvmctl restore %s'%n",
                snapshot, total >> 20, size, snapshot);
        if (common.json) {
            Map<String, Object> m = Reports.of(r);
            m.put("snapshot", snapshot.toString());
            m.put("snapshot_bytes", size);
            if (diffBase != null) {
                m.put("diff_base", diffBase.toString());
            }
            Reports.print(m, List.of(machine));
        }
        return 0;
    }

    static SwitchMode parseSwitchMode(String text) {
        try {
            return SwitchMode.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--switch must be 'warm' or 'cold', not '" + text + "'");
        }
    }

    private int report(List<RunResult> results, Switching switching, List<Machine> machines) {
        results.forEach(Reports::explain);
        if (common.json) {
            Object report;
            if (results.size() == 1 && switching == null) {
                report = Reports.of(results.get(0));
            } else {
                List<Object> vms = new ArrayList<>();
                results.forEach(r -> vms.add(Reports.of(r)));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("vms", vms);
                if (switching != null) {
                    m.put("switching", switching.report());
                }
                report = m;
            }
            Reports.print(report, machines);
        } else if (switching != null) {
            System.err.println(switching.summary());
        }
        for (RunResult r : results) {
            if (r.status() != 0) {
                return Reports.exitStatus(r.status());
            }
        }
        return 0;
    }
}
