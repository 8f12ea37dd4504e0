package dev.kvmctl.cli;

import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.shm.Quotas;
import java.nio.file.Path;
import java.time.Duration;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/** The options of {@code kvmctl launch}, in the order its help lists them, each bound to a field of a {@link LaunchCommand}. */
final class LaunchSpec {
    private LaunchSpec() {}

    static CommandSpec of(LaunchCommand c) {
        CommandSpec s = Specs.command(c, "launch",
                "Boots guest images on KVM and prints their serial console (port 0x3f8) and debug port (0xe9).",
                "A guest ends by writing its status to port 0xf4, or by hlt (status 0).",
                "Without --image: the shared-memory demo (a producer VM and a consumer VM exchange messages through one shared region).",
                "Exit status: the guest's status (with several, the first non-zero); 124 on timeout; 125 if a guest faulted;",
                "1 on a KVM error, an I/O error or a failed demo; 2 on bad input (refused before anything runs).",
                "Guest output is shown with control characters escaped (\\xNN) and lines split at 4096 bytes.");
        c.spec = s;
        s.usageMessage().sortOptions(false);
        add(s, Specs.list("--image", "FILE|NAME", String.class, v -> c.images = v)
                .description("Guest image: an ELF64 executable or a flat binary, or the name of a built-in image (see 'kvmctl images'). "
                        + "Repeat to run several VMs; their console lines are prefixed with their names."));
        add(s, Specs.option("--mode", "real|long", String.class, v -> c.mode = v)
                .description("CPU mode at entry (default: the built-in image's, else long)."));
        add(s, Specs.option("--ring", "0|3", Integer.class, v -> c.ring = v)
                .description("Privilege level in long mode (default: the built-in image's, else 0)."));
        add(s, Specs.option("--mem", "SIZE", Long.class, v -> c.memory = v).converters(new Sizes.SizeConverter())
                .description("Guest RAM per VM, e.g. 16M, 1G (default: 16M)."));
        add(s, Specs.option("--load-addr", "ADDR", Long.class, v -> c.loadAddress = v).converters(new Sizes.AddressConverter())
                .description("Where a flat image is loaded (default: 0x7c00 in real mode, 0x100000 in long mode)."));
        add(s, Specs.option("--entry", "ADDR", Long.class, v -> c.entry = v).converters(new Sizes.AddressConverter())
                .description("Where a flat image is entered (default: its load address)."));
        add(s, Specs.list("--arg", "N", Long.class, v -> c.args = v).converters(new Sizes.AddressConverter())
                .description("Up to four numbers for the guest's boot info (long mode)."));
        add(s, Specs.option("--timeout", "DURATION", Duration.class, v -> c.timeout = v).converters(new Sizes.DurationConverter())
                .description("Stop the guests after this long, e.g. 500ms, 10s, 2m (default: 60s, demo 120s; 0 for none)."));
        add(s, Specs.option("--messages", "N", Long.class, v -> c.messages = v).defaultValue("1000")
                .description("Demo: messages the producer sends (default: ${DEFAULT-VALUE})."));
        add(s, Specs.option("--seed", "S", Long.class, v -> c.seed = v).defaultValue("1")
                .description("Demo: seed of the message sizes and contents (default: ${DEFAULT-VALUE})."));
        add(s, Specs.option("--shared-size", "SIZE", Long.class, v -> c.sharedSize = v).converters(new Sizes.SizeConverter())
                .description("Size of the shared region (demo default: 8M). With --image: map one region of this size into "
                        + "every VM at 4 GiB and serve the shared-memory ABI (docs/shared-memory-abi.md)."));
        add(s, Specs.option("--quota-blocks", "N", Long.class, v -> c.quotaBlocks = v)
                .description("Shared region: blocks one VM may have allocated and not yet freed; beyond it ALLOC answers QUOTA "
                        + "(default: " + Quotas.DEFAULT_BLOCKS + ")."));
        add(s, Specs.option("--quota-bytes", "SIZE", Long.class, v -> c.quotaBytes = v).converters(new Sizes.SizeConverter())
                .description("Shared region: bytes of blocks one VM may have allocated and not yet freed "
                        + "(default: the region's size divided by the number of VMs)."));
        add(s, Specs.option("--max-message", "SIZE", Long.class, v -> c.maxMessage = v).converters(new Sizes.SizeConverter())
                .description("Demo: largest message payload (default: 256K)."));
        add(s, Specs.flag("--fixed-size", v -> c.fixedSize = v)
                .description("Demo: every message payload is exactly --max-message bytes."));
        add(s, Specs.flag("--poll", v -> c.poll = v)
                .description("Demo: the consumer polls for messages (yielding between polls) instead of waiting for the producer's doorbell."));
        add(s, Specs.flag("--one-thread", v -> c.oneThread = v)
                .description("Run every VM on this one host thread, switching between them (the demo's default)."));
        add(s, Specs.flag("--threads", v -> c.threads = v)
                .description("Demo: run each VM on its own host thread instead of switching."));
        add(s, Specs.option("--quantum", "DURATION", Duration.class, v -> c.quantum = v).converters(new Sizes.DurationConverter())
                .description("With one thread: time slice before a switch (default: 1ms)."));
        add(s, Specs.option("--switch", "warm|cold", String.class, v -> c.switchMode = v)
                .description("With one thread: warm keeps each VM and restores its context into the same vCPU; "
                        + "cold rebuilds a brand-new KVM VM at every switch (default: warm)."));
        add(s, Specs.option("--snapshot-after", "DURATION", Duration.class, v -> c.snapshotAfter = v)
                .converters(new Sizes.DurationConverter())
                .description("With --snapshot: stop the guest after this much run time and save it."));
        add(s, Specs.option("--snapshot", "FILE", Path.class, v -> c.snapshot = v)
                .description("Where --snapshot-after writes the stopped guest (continue it with 'kvmctl restore FILE'). "
                        + "It replaces FILE atomically; a write that fails leaves FILE as it was and exits with status 1."));
        add(s, Specs.option("--diff-base", "BASE", Path.class, v -> c.diffBase = v)
                .description("With --snapshot: write a diff snapshot, only the memory that differs from the snapshot BASE (the guest's "
                        + "earlier snapshot, full or a diff); continue it with 'kvmctl restore BASE... FILE'.",
                        "BASE must be a snapshot of a machine with the same memory size and irqchip, other than FILE."));
        add(s, Specs.flag("--irqchip", v -> c.irqchip = v)
                .description("Give each VM an in-kernel irqchip and PIT (their state joins the contexts)."));
        add(s, Specs.option("--cpus", "N", Integer.class, v -> c.cpus = v).defaultValue("1")
                .description("vCPUs per VM, 1 to " + BootInfo.MAX_CPUS + " (default: ${DEFAULT-VALUE}): each enters the image "
                        + "with its own stack and its index in its boot info; long mode only. They take turns on the VM's host thread."));
        c.common.addTo(s);
        Specs.addHelpOptions(s);
        return s;
    }

    private static void add(CommandSpec s, OptionSpec.Builder option) {
        s.addOption(option.build());
    }
}
