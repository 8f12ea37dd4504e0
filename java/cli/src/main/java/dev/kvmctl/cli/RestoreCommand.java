package dev.kvmctl.cli;

import dev.kvmctl.Kvm;
import dev.kvmctl.contexts.LazyRestore;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;

/** {@code kvmctl restore FILE}: continues a guest saved by {@code launch --snapshot}. */
final class RestoreCommand implements Callable<Integer> {
    Path file;
    List<Path> diffs = new ArrayList<>();
    Duration timeout = Duration.ofSeconds(60);
    final CommonOptions common = new CommonOptions();

    /** The command's model: its parameters and options, bound to {@code c}'s fields. */
    static CommandSpec spec(RestoreCommand c) {
        CommandSpec s = Specs.command(c, "restore",
                "Continues a guest from a snapshot written by 'launch --snapshot-after D --snapshot FILE'.",
                "The header and metadata are checked (format version, checksums, sizes) before anything is restored; the guest then",
                "starts at once while its memory is loaded from the file and checked chunk by chunk in the background (keep the file",
                "until the guest ends). A chunk that fails its checksum, or a file truncated meanwhile, stops the guest (status 122).",
                "Exit status: as for launch; 122 if the memory failed its check; 2 if the file is missing or not an intact snapshot,",
                "1 if it cannot be read.");
        s.addPositional(Specs.parameter("0", "FILE", Path.class, v -> c.file = v)
                .description("The snapshot file (a full snapshot).").build());
        s.addPositional(Specs.parameters("1..*", "DIFF", Path.class, v -> c.diffs = v)
                .description("Diff snapshots to apply on FILE, each taken from the one before it (the first from FILE); each is "
                        + "checked against its base and refused if it was taken from another.").build());
        s.addOption(Specs.option("--timeout", "DURATION", Duration.class, v -> c.timeout = v).converters(new Sizes.DurationConverter())
                .description("Stop the guest after this long (default: 60s; 0 for none).").build());
        c.common.addTo(s);
        Specs.addHelpOptions(s);
        return s;
    }

    @Override
    public Integer call() {
        Preload.await(); // it initializes the restore's classes: no other thread may meanwhile
        for (Path f : concat(file, diffs)) {
            if (!Files.exists(f)) {
                throw new IllegalArgumentException("no snapshot file " + f + "; give the FILE a 'launch --snapshot' wrote");
            }
            if (!Files.isRegularFile(f)) {
                throw new IllegalArgumentException(f + " is not a regular file (a directory, device or FIFO); "
                        + "give the FILE a 'launch --snapshot' wrote");
            }
        }
        try (Kvm kvm = Kvm.open(common.device)) {
            LazyRestore restore = LazyRestore.start(kvm, file, diffs, System.out);
            if (restore.fallbackReason() != null) {
                System.err.println("kvmctl: " + restore.fallbackReason());
            }
            try (Machine machine = restore.machine()) {
                RunResult r = machine.run(timeout);
                Reports.explain(r);
                // The guest read only checked chunks; a chunk it never read may still be bad: wait for the whole check.
                restore.awaitVerified(Duration.ofSeconds(600));
                String failure = restore.failure();
                if (failure != null && r.outcome() != Outcome.CORRUPTED) {
                    System.err.println("kvmctl: " + r.name() + " ended (" + r.detail() + "), but " + failure);
                }
                if (common.json) {
                    Map<String, Object> m = Reports.of(r);
                    m.put("snapshot", file.toString());
                    if (!diffs.isEmpty()) {
                        m.put("diffs", diffs.stream().map(Path::toString).toList());
                    }
                    m.put("memory_bytes", machine.ram().size());
                    m.put("lazy", restore.isLazy());
                    m.put("restore_ms", restore.firstRunNanos() / 1e6);
                    m.put("verify_ms", restore.verifyNanos() < 0 ? null : restore.verifyNanos() / 1e6);
                    m.put("verified", restore.isVerified());
                    Reports.print(m, List.of(machine));
                }
                return failure != null ? Outcome.CORRUPTED_STATUS : Reports.exitStatus(r.status());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while the snapshot's memory was being checked", e);
        }
    }

    private static List<Path> concat(Path first, List<Path> rest) {
        List<Path> all = new ArrayList<>();
        all.add(first);
        all.addAll(rest);
        return all;
    }
}
