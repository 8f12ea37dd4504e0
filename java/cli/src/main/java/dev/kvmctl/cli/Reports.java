package dev.kvmctl.cli;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The machine-readable reports {@code --json} prints: one JSON object on one line, last on stdout. */
final class Reports {
    /** Built on the first report, not when the class loads: a plain launch prints none (start-up time). */
    private static final class Json {
        static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    }

    private Reports() {}

    static Map<String, Object> of(RunResult r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", r.name());
        m.put("outcome", r.outcome().name().toLowerCase(java.util.Locale.ROOT));
        m.put("status", r.status());
        m.put("detail", r.detail());
        m.put("exits", r.exits());
        m.put("exits_by_kind", r.exitsByKind());
        Map<String, Long> unclaimed = new LinkedHashMap<>();
        unclaimed.put("port_reads", r.unclaimedPortReads());
        unclaimed.put("port_writes", r.unclaimedPortWrites());
        unclaimed.put("mmio_reads", r.unclaimedMmioReads());
        unclaimed.put("mmio_writes", r.unclaimedMmioWrites());
        m.put("unclaimed", unclaimed);
        m.put("run_time_ms", r.runTime().toNanos() / 1e6);
        if (!r.faultDump().isEmpty()) {
            m.put("fault_dump", r.faultDump());
        }
        return m;
    }

    static String json(Object report) {
        return Json.GSON.toJson(report);
    }

    /**
     * Prints {@code report} as JSON on a line of its own: a console line a guest left unfinished
     * is ended first, so the report is never glued to guest output.
     */
    static void print(Object report, List<Machine> machines) {
        for (Machine m : machines) {
            m.config().console().endLine();
        }
        System.out.println(json(report));
    }

    /** Tells stderr why a guest did not end on its own terms: its fault dump, its time-out, or the host's failure. */
    static void explain(RunResult r) {
        if (r.outcome() == dev.kvmctl.guests.Outcome.FAULTED) {
            System.err.print(r.faultDump());
        } else if (r.outcome() == dev.kvmctl.guests.Outcome.TIMED_OUT || r.outcome() == dev.kvmctl.guests.Outcome.FAILED
                || r.outcome() == dev.kvmctl.guests.Outcome.CORRUPTED) {
            System.err.println("kvmctl: " + r.name() + ": " + r.detail());
        }
    }

    /** The process exit status for a guest status: its low byte, but never 0 for a non-zero status. */
    static int exitStatus(int status) {
        int low = status & 0xff;
        return low == 0 && status != 0 ? 1 : low;
    }
}
