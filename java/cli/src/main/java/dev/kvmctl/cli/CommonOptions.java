package dev.kvmctl.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** The options every command that runs guests shares: which KVM device, and whether to report in JSON. */
final class CommonOptions {
    @Option(names = "--json", description = "After the console output, print a JSON report as the last line of stdout.")
    boolean json;

    @Option(names = "--device", description = "KVM device (default: ${DEFAULT-VALUE})", defaultValue = "/dev/kvm")
    Path device;
}
