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
 * @param detail one line on why it ended (the exit, the status, the fault)
 * @param faultDump registers and state at a fault, or empty
 */
public record RunResult(String name, Outcome outcome, int status, String detail, Map<String, Long> exitsByKind,
                        long unclaimedPortReads, long unclaimedPortWrites, long unclaimedMmioReads,
                        long unclaimedMmioWrites, Duration runTime, String faultDump) {

    /** Whether the guest ended on its own terms with status 0. */
    public boolean succeeded() {
        return status == 0 && (outcome == Outcome.EXITED || outcome == Outcome.HALTED || outcome == Outcome.POWERED_OFF);
    }

    /** Total exits. */
    public long exits() {
        return exitsByKind.values().stream().mapToLong(Long::longValue).sum();
    }
}
