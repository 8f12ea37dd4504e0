package dev.kvmctl.memory;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

/**
 * Prints the table in {@code docs/allocator.md} from a JMH JSON result file: pairs per second per
 * live-block count, for both allocators and the TreeMap yardstick, the speedup over the baseline,
 * and how much each slows down from 100 to 1,000,000 live blocks.
 */
public final class AllocatorBenchSummary {
    private AllocatorBenchSummary() {}

    /**
     * Reads the JSON and prints the summary.
     *
     * @param args the path of JMH's {@code -rf json} output
     * @throws IOException if it cannot be read
     */
    public static void main(String[] args) throws IOException {
        JsonArray runs = JsonParser.parseString(Files.readString(Path.of(args[0]))).getAsJsonArray();
        Map<Integer, double[]> tree = new TreeMap<>();
        Map<Integer, double[]> linear = new TreeMap<>();
        Map<Integer, double[]> treeMap = new TreeMap<>();
        for (JsonElement e : runs) {
            JsonObject run = e.getAsJsonObject();
            String name = run.get("benchmark").getAsString();
            int live = Integer.parseInt(run.getAsJsonObject("params").get("liveBlocks").getAsString());
            JsonObject metric = run.getAsJsonObject("primaryMetric");
            double[] score = {metric.get("score").getAsDouble(), metric.get("scoreError").getAsDouble()};
            (name.contains("LinearScan") ? linear : name.contains("TreeMapReference") ? treeMap : tree).put(live, score);
        }
        System.out.println();
        System.out.println("allocate+free pairs per second (one pair = 2 operations), mean +- 99.9% error");
        System.out.printf("%12s %26s %26s %10s %26s%n",
                "live blocks", "BlockAllocator", "linear-scan baseline", "speedup", "TreeMap remove+put");
        for (int live : tree.keySet()) {
            double[] t = tree.get(live);
            double[] l = linear.get(live);
            double[] m = treeMap.get(live);
            System.out.printf("%,12d %26s %26s %10s %26s%n", live, format(t), l == null ? "-" : format(l),
                    l == null ? "-" : String.format("%,.0fx", t[0] / l[0]), m == null ? "-" : format(m));
        }
        slowdown("BlockAllocator", tree);
        slowdown("linear-scan baseline", linear);
        slowdown("TreeMap remove+put (yardstick)", treeMap);
    }

    private static String format(double[] score) {
        return String.format("%,.0f +- %,.0f", score[0], Double.isNaN(score[1]) ? 0 : score[1]);
    }

    private static void slowdown(String name, Map<Integer, double[]> scores) {
        if (scores.containsKey(100) && scores.containsKey(1_000_000)) {
            System.out.printf("%s: %.2fx slower at 1,000,000 live blocks than at 100 (%,.1f M operations/s at 100)%n",
                    name, scores.get(100)[0] / scores.get(1_000_000)[0], 2 * scores.get(100)[0] / 1e6);
        }
    }
}
