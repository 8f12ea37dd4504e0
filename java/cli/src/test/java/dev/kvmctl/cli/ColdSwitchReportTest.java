package dev.kvmctl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import dev.kvmctl.KvmAvailable;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * {@code launch --one-thread --switch cold --json} reports the switch itself
 * ({@code switch_latency_us}, {@code capture_us}, {@code restore_us}) and what the pool of
 * prepared VMs did. The spin guests never end, so the time limit ends the run; the checks are
 * relations between the counts, which hold however many switches a machine's speed allows.
 */
class ColdSwitchReportTest {
    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    @Test
    void theJsonReportHasTheSwitchLatenciesAndThePoolsCounts() {
        Cli r = Cli.run("launch", "--image", "spin", "--image", "spin", "--one-thread", "--switch", "cold",
                "--quantum", "1ms", "--timeout", "300ms", "--json");
        assertEquals(124, r.status(), r.describe());
        String[] lines = r.out().split("\n");
        JsonObject switching = JsonParser.parseString(lines[lines.length - 1]).getAsJsonObject().getAsJsonObject("switching");
        assertEquals("cold", switching.get("mode").getAsString());
        for (String latency : new String[] {"switch_latency_us", "capture_us", "restore_us"}) {
            JsonObject l = switching.getAsJsonObject(latency);
            for (String key : new String[] {"count", "mean", "p50", "p99", "max"}) {
                assertTrue(l.has(key), latency + " has no " + key + ": " + switching);
            }
        }
        long switches = switching.get("switches").getAsLong();
        long restores = switching.getAsJsonObject("restore_us").get("count").getAsLong();
        JsonObject pool = switching.getAsJsonObject("prepared_vms");
        long takes = pool.get("takes").getAsLong();
        assertEquals(Math.max(0, switches - 2), restores, "every switch-in after each guest's first restored a context: " + switching);
        assertEquals(restores, takes, "each restore went into a VM from the pool: " + switching);
        assertTrue(pool.get("misses").getAsLong() <= takes, switching.toString());
        assertTrue(pool.get("prepared").getAsLong() >= takes - pool.get("misses").getAsLong(),
                "a switch-in that found one ready took a prepared VM: " + switching);
        assertTrue(pool.get("closed_in_background").getAsLong() + pool.get("closed_on_switch").getAsLong() >= takes,
                "every VM retired before a switch-in was closed by the end: " + switching);
    }
}
