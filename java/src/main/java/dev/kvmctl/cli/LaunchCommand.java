package dev.kvmctl.cli;

import dev.kvmctl.Kvm;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.devices.Console;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code kvmctl launch}: boots a guest image and shows its console. */
@Command(name = "launch", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Boots a guest image on KVM and prints its serial console (port 0x3f8) and debug port (0xe9).",
            "The guest ends by writing its status to port 0xf4, or by hlt (status 0).",
            "Exit status: the guest's status; 124 on timeout; 125 if the guest faulted; 1 on a KVM error; 2 on bad input."})
final class LaunchCommand implements Callable<Integer> {
    @Option(names = "--image", paramLabel = "FILE|NAME",
            description = "Guest image: an ELF64 executable or a flat binary, or the name of a built-in image (see 'kvmctl images').")
    String image;

    @Option(names = "--mode", paramLabel = "real|long",
            description = "CPU mode at entry (default: the built-in image's, else long).")
    String mode;

    @Option(names = "--ring", paramLabel = "0|3", description = "Privilege level in long mode (default: the built-in image's, else 0).")
    Integer ring;

    @Option(names = "--mem", paramLabel = "SIZE", converter = Sizes.SizeConverter.class,
            description = "Guest RAM, e.g. 16M, 1G (default: 16M).")
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
            description = "Stop the guest after this long, e.g. 500ms, 10s, 2m (default: 60s; 0 for none).")
    Duration timeout = Duration.ofSeconds(60);

    @Option(names = "--json", description = "After the console output, print a JSON report as the last line of stdout.")
    boolean json;

    @Option(names = "--device", description = "KVM device (default: ${DEFAULT-VALUE})", defaultValue = "/dev/kvm")
    Path device;

    @Override
    public Integer call() {
        if (image == null) {
            throw new IllegalArgumentException("--image is required (try 'kvmctl images' for the built-in ones)");
        }
        GuestConfig config = config();
        try (Kvm kvm = Kvm.open(device); Machine machine = Machine.boot(kvm, config)) {
            RunResult result = machine.run(timeout);
            report(result);
            return Reports.exitStatus(result.status());
        }
    }

    private GuestConfig config() {
        Path file = Paths.get(image);
        BuiltinImages.Image builtin = Files.exists(file) ? null : BuiltinImages.find(image).orElse(null);
        if (builtin == null && !Files.exists(file)) {
            throw new IllegalArgumentException("no image file '" + image + "' and no built-in image of that name (see 'kvmctl images')");
        }
        CpuMode cpuMode = mode != null ? parseMode(mode) : builtin != null ? builtin.mode() : CpuMode.LONG;
        int cpuRing = ring != null ? ring : builtin != null ? builtin.ring() : 0;
        if (cpuMode == CpuMode.REAL && cpuRing != 0) {
            throw new IllegalArgumentException("--ring applies to long mode only");
        }
        long load = loadAddress != null ? loadAddress : cpuMode.defaultLoadAddress();
        long start = entry != null ? entry : load;
        GuestImage guest = builtin != null
                ? GuestImage.parse(builtin.file(), BuiltinImages.bytes(builtin), load, start)
                : GuestImage.read(file, load, start);
        GuestConfig.Builder b = GuestConfig.builder(guest).mode(cpuMode).ring(cpuRing)
                .args(args.stream().mapToLong(Long::longValue).toArray())
                .console(new Console(System.out, null));
        if (memory != null) {
            b.memorySize(memory);
        }
        return b.build();
    }

    static CpuMode parseMode(String text) {
        try {
            return CpuMode.valueOf(text.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--mode must be 'real' or 'long', not '" + text + "'");
        }
    }

    private void report(RunResult result) {
        if (result.outcome() == Outcome.FAULTED) {
            System.err.print(result.faultDump());
        } else if (result.outcome() == Outcome.TIMED_OUT) {
            System.err.println("kvmctl: " + result.name() + ": " + result.detail());
        }
        if (json) {
            Map<String, Object> m = Reports.of(result);
            m.put("image", image);
            System.out.println(Reports.json(m));
        }
    }
}
