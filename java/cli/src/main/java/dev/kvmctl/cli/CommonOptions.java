package dev.kvmctl.cli;

import java.nio.file.Path;
import java.util.function.Consumer;
import picocli.CommandLine.Model.CommandSpec;

/** The options every command that runs guests shares: which KVM device, and whether to report in JSON. */
final class CommonOptions {
    boolean json;
    Path device;

    /** Adds {@code --json} and {@code --device} to {@code spec}, bound to this object's fields. */
    void addTo(CommandSpec spec) {
        spec.addOption(Specs.flag("--json", v -> json = v)
                .description("After the console output, print a JSON report as the last line of stdout.").build());
        addDevice(spec, v -> device = v);
    }

    /** Adds {@code --device} (default {@code /dev/kvm}) to {@code spec}: also for {@code info}, whose {@code --json} differs. */
    static void addDevice(CommandSpec spec, Consumer<Path> into) {
        spec.addOption(Specs.option("--device", "<device>", Path.class, into).defaultValue("/dev/kvm")
                .description("KVM device (default: ${DEFAULT-VALUE})").build());
    }
}
