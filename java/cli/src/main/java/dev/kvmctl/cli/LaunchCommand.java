package dev.kvmctl.cli;

import dev.kvmctl.Kvm;
import dev.kvmctl.contexts.DiffSnapshot;
import dev.kvmctl.contexts.Snapshot;
import dev.kvmctl.contexts.SwitchMode;
import dev.kvmctl.guests.BootInfo;
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
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code kvmctl launch}: boots guest images and shows their consoles; with no image, the
 * shared-memory demo. One mode per run, chosen in {@link #call()} after {@link LaunchChecks}:
 * the images mode ({@code runImages}), the snapshot mode ({@code runToSnapshot}, with
 * {@code --snapshot}), both over the machines {@code boot} makes, or the demo ({@link LaunchDemo}).
 */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Boots guest images on KVM and prints their serial console (port 0x3f8) and debug port (0xe9).",
            "A guest ends by writing its status to port 0xf4, or by hlt (status 0).",
            "Without --image: the shared-memory demo (a producer VM and a consumer VM exchange messages through one shared region).",
            "Exit status: the guest's status (with several, the first non-zero); 124 on timeout; 125 if a guest faulted;",
            "1 on a KVM error, an I/O error or a failed demo; 2 on bad input (refused before anything runs).",
            "Guest output is shown with control characters escaped (\\xNN) and lines split at 4096 bytes."})
final class LaunchCommand implements Callable<Integer> {
    /** --timeout with --image when none is given. */
    static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    @Option(names = "--image", paramLabel = "FILE|NAME",
            description = "Guest image: an ELF64 executable or a flat binary, or the name of a built-in image (see 'kvmctl images'). "
                    + "Repeat to run several VMs; their console lines are prefixed with their names.")
    List<String> images = new ArrayList<>();

    @Option(names = "--mode", paramLabel = "real|long", description = "CPU mode at entry (default: the built-in image's, else long).")
    String mode;

    @Option(names = "--ring", paramLabel = "0|3", description = "Privilege level in long mode (default: the built-in image's, else 0).")
    Integer ring;

    @Option(names = "--mem", paramLabel = "SIZE", converter = Sizes.SizeConverter.class,
            description = "Guest RAM per VM, e.g. 16M, 1G (default: 16M).")
    Long memory;

    @Option(names = "--load-addr", paramLabel = "ADDR", converter = Sizes.AddressConverter.class,
            description = "Where a flat image is loaded (default: 0x7c00 in real mode, 0x100000 in long mode).")
    Long loadAddress;

    @Option(names = "--entry", paramLabel = "ADDR", converter = Sizes.AddressConverter.class,
            description = "Where a flat image is entered (default: its load address).")
    Long entry;

    @Option(names = "--arg", paramLabel = "N", converter = Sizes.AddressConverter.class,
            description = "Up to four numbers for the guest's boot info (long mode).")
    List<Long> args = new ArrayList<>();

    @Option(names = "--timeout", paramLabel = "DURATION", converter = Sizes.DurationConverter.class,
            description = "Stop the guests after this long, e.g. 500ms, 10s, 2m (default: 60s, demo 120s; 0 for none).")
    Duration timeout;


    @Option(names = "--messages", paramLabel = "N", description = "Demo: messages the producer sends (default: ${DEFAULT-VALUE}).",
            defaultValue = "1000")
    long messages;

    @Option(names = "--seed", paramLabel = "S", description = "Demo: seed of the message sizes and contents (default: ${DEFAULT-VALUE}).",
            defaultValue = "1")
    long seed;

    @Option(names = "--shared-size", paramLabel = "SIZE", converter = Sizes.SizeConverter.class,
            description = "Size of the shared region (demo default: 8M). With --image: map one region of this size into "
                    + "every VM at 4 GiB and serve the shared-memory ABI (docs/shared-memory-abi.md).")
    Long sharedSize;

    @Option(names = "--quota-blocks", paramLabel = "N", description = "Shared region: blocks one VM may have allocated and "
            + "not yet freed; beyond it ALLOC answers QUOTA (default: " + Quotas.DEFAULT_BLOCKS + ").")
    long quotaBlocks;

    @Option(names = "--quota-bytes", paramLabel = "SIZE", converter = Sizes.SizeConverter.class,
            description = "Shared region: bytes of blocks one VM may have allocated and not yet freed "
                    + "(default: the region's size divided by the number of VMs).")
    long quotaBytes;

    @Option(names = "--max-message", paramLabel = "SIZE", converter = Sizes.SizeConverter.class,
            description = "Demo: largest message payload (default: 256K).")
    Long maxMessage;

    @Option(names = "--fixed-size", description = "Demo: every message payload is exactly --max-message bytes.")
    boolean fixedSize;

    @Option(names = "--poll", description = "Demo: the consumer polls for messages (yielding between polls) instead of "
            + "waiting for the producer's doorbell.")
    boolean poll;

    @Option(names = "--one-thread", description = "Run every VM on this one host thread, switching between them "
            + "(the demo's default).")
    boolean oneThread;

    @Option(names = "--threads", description = "Demo: run each VM on its own host thread instead of switching.")
    boolean threads;

    @Option(names = "--quantum", paramLabel = "DURATION", converter = Sizes.DurationConverter.class,
            description = "With one thread: time slice before a switch (default: 1ms).")
    Duration quantum = Duration.ofMillis(1);

    @Option(names = "--switch", paramLabel = "warm|cold",
            description = "With one thread: warm keeps each VM and restores its context into the same vCPU; "
                    + "cold rebuilds a brand-new KVM VM at every switch (default: warm).")
    String switchMode = "warm";

    @Option(names = "--snapshot-after", paramLabel = "DURATION", converter = Sizes.DurationConverter.class,
            description = "With --snapshot: stop the guest after this much run time and save it.")
    Duration snapshotAfter;

    @Option(names = "--snapshot", paramLabel = "FILE",
            description = "Where --snapshot-after writes the stopped guest (continue it with 'kvmctl restore FILE'). "
                    + "It replaces FILE atomically; a write that fails leaves FILE as it was and exits with status 1.")
    Path snapshot;

    @Option(names = "--diff-base", paramLabel = "BASE",
            description = {"With --snapshot: write a diff snapshot, only the memory that differs from the snapshot BASE (the guest's "
                    + "earlier snapshot, full or a diff); continue it with 'kvmctl restore BASE... FILE'.",
                "BASE must be a snapshot of a machine with the same memory size and irqchip, other than FILE."})
    Path diffBase;

    @Option(names = "--irqchip", description = "Give each VM an in-kernel irqchip and PIT (their state joins the contexts).")
    boolean irqchip;

    @Option(names = "--cpus", paramLabel = "N", description = "vCPUs per VM, 1 to " + BootInfo.MAX_CPUS + " (default: "
            + "${DEFAULT-VALUE}): each enters the image with its own stack and its index in its boot info; long mode only. "
            + "They take turns on the VM's host thread.")
    int cpus = 1;

    @Mixin
    CommonOptions common;

    @Spec
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
