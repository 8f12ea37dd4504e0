package dev.kvmctl.cli;

import dev.kvmctl.GuestMemory;
import dev.kvmctl.contexts.ContextFormatException;
import dev.kvmctl.contexts.DiffSnapshot;
import dev.kvmctl.contexts.Snapshot;
import dev.kvmctl.guests.BootInfo;
import dev.kvmctl.guests.BootSetup;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.shm.SharedRegion;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.ParseResult;

/**
 * The checks {@code launch} makes before it opens KVM: options that do not apply to the mode
 * chosen, sizes and durations that cannot work. Each failure is an {@link IllegalArgumentException}
 * whose message is one line saying what to change (exit status 2).
 */
final class LaunchChecks {
    /** Options that only --image guests take. */
    private static final List<String> IMAGE_ONLY = List.of("--mode", "--ring", "--load-addr", "--entry", "--arg", "--irqchip", "--cpus");
    /** Options that only the demo takes. */
    private static final List<String> DEMO_ONLY = List.of("--messages", "--seed", "--max-message", "--fixed-size", "--poll");
    /** Options that only a shared region takes (the demo's, or an --image launch's with --shared-size). */
    private static final List<String> SHARED_ONLY = List.of("--quota-blocks", "--quota-bytes");
    /** Options that only one-thread switching takes. */
    private static final List<String> SWITCHING_ONLY = List.of("--quantum", "--switch");
    /**
     * The shortest quantum: a shorter one may end before the guest is even entered (the timer
     * runs on another thread), and a switch itself takes about 100 us.
     */
    static final Duration MIN_QUANTUM = Duration.ofNanos(10_000);
    /** The most guest-physical space kvmctl's identity map covers: RAM and shared region together. */
    static final long MAX_GUEST_SPACE = (long) BootSetup.MAX_MAPPED_GIB << 30;

    private LaunchChecks() {}

    static void check(LaunchCommand c, ParseResult parsed) {
        boolean demo = c.images.isEmpty();
        if (c.threads && c.oneThread) {
            throw new IllegalArgumentException("--threads and --one-thread exclude each other; give one of them");
        }
        for (String option : demo ? IMAGE_ONLY : DEMO_ONLY) {
            if (parsed.hasMatchedOption(option)) {
                throw new IllegalArgumentException(demo
                        ? option + " applies to --image guests; the demo (launch without --image) does not take it"
                        : option + " applies to the demo (launch without --image) only; remove it");
            }
        }
        if (!demo && c.sharedSize == null) {
            for (String option : SHARED_ONLY) {
                if (parsed.hasMatchedOption(option)) {
                    throw new IllegalArgumentException(option + " applies to a shared region; add --shared-size or remove " + option);
                }
            }
        }
        if (demo && c.messages < 1) {
            throw new IllegalArgumentException("--messages must be at least 1, not " + c.messages);
        }
        boolean switching = demo ? !c.threads : c.oneThread;
        for (String option : SWITCHING_ONLY) {
            if (!switching && parsed.hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + " applies to one-thread switching only; "
                        + (demo ? "remove --threads or " + option : "add --one-thread or remove " + option));
            }
        }
        if (switching) {
            LaunchCommand.parseSwitchMode(c.switchMode);
            if (c.quantum.compareTo(MIN_QUANTUM) < 0) {
                throw new IllegalArgumentException("--quantum " + Sizes.format(c.quantum) + " is shorter than "
                        + Sizes.format(MIN_QUANTUM) + ", too short for a guest to run between switches; use e.g. 1ms");
            }
        }
        long ram = c.memory != null ? c.memory : GuestConfig.DEFAULT_MEMORY;
        if (c.memory != null) {
            pageMultiple("--mem", c.memory, "16M");
            if (c.memory > MAX_GUEST_SPACE) {
                throw new IllegalArgumentException("--mem " + Sizes.formatSize(c.memory) + " is more than the "
                        + Sizes.formatSize(MAX_GUEST_SPACE) + " of guest-physical space kvmctl maps; use at most that");
            }
        }
        if (c.sharedSize != null) {
            pageMultiple("--shared-size", c.sharedSize, "8M");
        }
        if (demo || c.sharedSize != null) {
            long base = SharedRegion.DEFAULT_GUEST_ADDRESS;
            if (ram > base) {
                throw new IllegalArgumentException("--mem " + Sizes.formatSize(ram) + " overlaps the shared region at "
                        + Sizes.formatSize(base) + "; with shared memory use at most --mem " + Sizes.formatSize(base));
            }
            if (c.sharedSize != null && c.sharedSize > MAX_GUEST_SPACE - base) {
                throw new IllegalArgumentException("--shared-size " + Sizes.formatSize(c.sharedSize) + " does not fit: the region at "
                        + Sizes.formatSize(base) + " must end by " + Sizes.formatSize(MAX_GUEST_SPACE)
                        + "; use at most " + Sizes.formatSize(MAX_GUEST_SPACE - base));
            }
        }
        if (c.args.size() > BootInfo.ARGS) {
            throw new IllegalArgumentException("--arg given " + c.args.size() + " times; a guest takes at most " + BootInfo.ARGS);
        }
        if (c.cpus < 1 || c.cpus > BootInfo.MAX_CPUS) {
            throw new IllegalArgumentException("--cpus must be 1 to " + BootInfo.MAX_CPUS + ", not " + c.cpus);
        }
        if (c.cpus * BootSetup.STACK_PER_CPU >= ram - BootSetup.BOOT_AREA_END) {
            throw new IllegalArgumentException("--cpus " + c.cpus + " needs more than " + Sizes.formatSize(ram)
                    + " of RAM for its vCPUs' stacks; give a larger --mem");
        }
        if (c.ring != null && c.ring != 0 && c.ring != 3) {
            throw new IllegalArgumentException("--ring must be 0 or 3, not " + c.ring);
        }
        if (c.mode != null) {
            LaunchCommand.parseMode(c.mode);
        }
        insideRam("--load-addr", c.loadAddress, ram);
        insideRam("--entry", c.entry, ram);
        if (c.snapshotAfter != null) {
            Duration limit = c.timeout != null ? c.timeout : LaunchCommand.DEFAULT_TIMEOUT;
            if (c.snapshotAfter.isZero()) {
                throw new IllegalArgumentException("--snapshot-after must be longer than 0, e.g. 300ms");
            }
            if (!limit.isZero() && c.snapshotAfter.compareTo(limit) >= 0) {
                throw new IllegalArgumentException("--snapshot-after " + Sizes.format(c.snapshotAfter) + " is not before --timeout "
                        + Sizes.format(limit) + ", so the guest would be stopped first; use a shorter --snapshot-after or a longer --timeout");
            }
        }
        if ((c.snapshot == null) != (c.snapshotAfter == null)) {
            throw new IllegalArgumentException("--snapshot and --snapshot-after go together");
        }
        if (c.snapshot != null && (c.images.size() != 1 || c.oneThread)) {
            throw new IllegalArgumentException("--snapshot takes exactly one --image, without --one-thread");
        }
        if (c.snapshot != null && c.sharedSize != null) {
            // Snapshot.write refuses a machine that maps a shared region; say so before the guest runs.
            throw new IllegalArgumentException("--snapshot cannot save a guest that maps a shared region; remove --shared-size or --snapshot");
        }
        if (c.snapshot != null) {
            Snapshot.checkDestination(c.snapshot); // a path that cannot take the file fails now, not after the run
        }
        if (c.diffBase != null) {
            checkDiffBase(c.diffBase, c.snapshot, ram, c.irqchip);
        }
    }

    /** {@code --diff-base}: with {@code --snapshot}, not the same file, and a snapshot the diff can be taken from (metadata only). */
    private static void checkDiffBase(Path base, Path snapshot, long ram, boolean irqchip) {
        if (snapshot == null) {
            throw new IllegalArgumentException("--diff-base goes with --snapshot and --snapshot-after: it says what the snapshot "
                    + "is a diff of");
        }
        if (!Files.isRegularFile(base)) {
            throw new IllegalArgumentException("--diff-base " + base + (Files.exists(base) ? " is not a regular file" : " does not exist")
                    + "; give a snapshot an earlier 'launch --snapshot' wrote");
        }
        try {
            if (Files.exists(snapshot) && Files.isSameFile(base, snapshot)) {
                throw new IllegalArgumentException("--diff-base and --snapshot are the same file " + base + ": the diff would "
                        + "replace its own base; write it to another file");
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot compare --diff-base " + base + " with --snapshot " + snapshot, e);
        }
        try {
            DiffSnapshot.checkBase(base, ram, irqchip);
        } catch (ContextFormatException e) {
            throw new IllegalArgumentException("--diff-base: " + e.getMessage(), e);
        }
    }

    private static void pageMultiple(String option, long bytes, String example) {
        if (bytes <= 0 || bytes % GuestMemory.PAGE_SIZE != 0) {
            throw new IllegalArgumentException(option + " must be a positive multiple of 4K (the page size), e.g. "
                    + example + "; got " + bytes);
        }
    }

    private static void insideRam(String option, Long address, long ram) {
        if (address != null && (address < 0 || address >= ram)) {
            throw new IllegalArgumentException(String.format("%s 0x%x lies outside the guest's %s of RAM; "
                    + "give an address below 0x%x (or a larger --mem)", option, address, Sizes.formatSize(ram), ram));
        }
    }
}
