package dev.kvmctl.cli;

import dev.kvmctl.Kvm;
import dev.kvmctl.contexts.Snapshot;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kvmctl restore FILE}: continues a guest saved by {@code launch --snapshot}. */
@Command(name = "restore", mixinStandardHelpOptions = true,
        description = {"Continues a guest from a snapshot written by 'launch --snapshot-after D --snapshot FILE'.",
            "The file is checked whole (format version, checksums, sizes) before anything is restored.",
            "Exit status: as for launch; 2 if the file is missing or not an intact snapshot, 1 if it cannot be read."})
final class RestoreCommand implements Callable<Integer> {
    @Parameters(paramLabel = "FILE", description = "The snapshot file.")
    Path file;

    @Option(names = "--timeout", paramLabel = "DURATION", converter = Sizes.DurationConverter.class,
            description = "Stop the guest after this long (default: 60s; 0 for none).")
    Duration timeout = Duration.ofSeconds(60);


    @Mixin
    CommonOptions common;

    @Override
    public Integer call() {
        if (!Files.exists(file)) {
            throw new IllegalArgumentException("no snapshot file " + file + "; give the FILE a 'launch --snapshot' wrote");
        }
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException(file + " is not a regular file (a directory, device or FIFO); "
                    + "give the FILE a 'launch --snapshot' wrote");
        }
        // Snapshot.restore reads the file once, checking it whole before anything is restored.
        try (Kvm kvm = Kvm.open(common.device); Machine machine = Snapshot.restore(kvm, file, System.out)) {
            RunResult r = machine.run(timeout);
            Reports.explain(r);
            if (common.json) {
                Map<String, Object> m = Reports.of(r);
                m.put("snapshot", file.toString());
                m.put("memory_bytes", machine.ram().size());
                Reports.print(m, List.of(machine));
            }
            return Reports.exitStatus(r.status());
        }
    }
}
