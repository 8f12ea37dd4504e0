package dev.kvmctl.guests;

import java.time.Duration;
import java.util.Map;

/**
 * The end of a guest's run: how it ended, its status, the exits it took by kind, the I/O nobody
 * claimed, and for a fault a register dump.
 *
 * <pre>{@code
 * RunResult r = machine.run(Duration.ofSeconds(5));
 * System.exit(r.status());
 * }</pre>
 *
 * @param name the guest's name, from its configuration
 * @param outcome how the run ended
 * @param status the process exit status kvmctl gives it: the guest's own for {@link Outcome#EXITED},
 *     0 for a clean halt, stop or power-off, {@link Outcome#FAULT_STATUS}, {@link Outcome#TIMEOUT_STATUS}
 *     or {@link Outcome#FAILED_STATUS} otherwise
 * @param detail one line on why it ended (the exit, the status, the fault)
 * @param exitsByKind how many exits of each kind ({@code "io-out"}, {@code "mmio-read"}, ...) the
 *     guest took, in a fixed order, kinds with none left out
 * @param unclaimedPortReads port reads no device claimed (answered with all ones)
 * @param unclaimedPortWrites port writes no device claimed (dropped)
 * @param unclaimedMmioReads MMIO reads no device claimed (answered with all ones)
 * @param unclaimedMmioWrites MMIO writes no device claimed (dropped)
 * @param runTime the time the guest spent in its time slices (not waiting, not switched out)
 * @param faultDump registers and state at a fault, or empty
 */
public record RunResult(String name, Outcome outcome, int status, String detail, Map<String, Long> exitsByKind,
                        long unclaimedPortReads, long unclaimedPortWrites, long unclaimedMmioReads,
                        long unclaimedMmioWrites, Duration runTime, String faultDump) {

    /** {@return whether the guest ended on its own terms (exit port, hlt, power-off) with status 0} */
    public boolean succeeded() {
        return status == 0 && (outcome == Outcome.EXITED || outcome == Outcome.HALTED || outcome == Outcome.POWERED_OFF);
    }

    /** {@return the total of {@link #exitsByKind()}: every exit to user space the guest took} */
    public long exits() {
        return exitsByKind.values().stream().mapToLong(Long::longValue).sum();
    }
}
