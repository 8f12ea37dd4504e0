package dev.kvmctl.guests.shm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@link ShmAbi} against {@code docs/shared-memory-abi.md}, the ABI's specification (no KVM): every
 * status code and operation in the document's tables has that number and name in kvmctl, and the
 * ports and mailbox layout are the ones it gives.
 */
class ShmAbiDocTest {
    /** The ABI document, found from the library module Surefire runs in. */
    private static final Path DOC = Path.of(System.getProperty("basedir", "")).toAbsolutePath()
            .resolve("../../docs/shared-memory-abi.md").normalize();

    /** Rows {@code | N | `NAME` | ...} of the table under {@code heading}, in order. */
    private static Map<Integer, String> table(String doc, String heading) {
        int from = doc.indexOf("\n" + heading + "\n");
        assertTrue(from >= 0, "the ABI document has a section " + heading);
        int to = doc.indexOf("\n## ", from + 1);
        String section = doc.substring(from, to < 0 ? doc.length() : to);
        Map<Integer, String> rows = new LinkedHashMap<>();
        Matcher m = Pattern.compile("(?m)^\\| (\\d+) \\| `([A-Z_]+)` \\|").matcher(section);
        while (m.find()) {
            rows.put(Integer.parseInt(m.group(1)), m.group(2));
        }
        return rows;
    }

    private static int constant(String name) throws ReflectiveOperationException {
        return ShmAbi.class.getField(name).getInt(null);
    }

    @Test
    void statusCodesAreTheDocumentedOnes() throws IOException, ReflectiveOperationException {
        Map<Integer, String> statuses = table(Files.readString(DOC), "## Status codes");
        assertTrue(statuses.size() >= 11, "status table: " + statuses);
        for (Map.Entry<Integer, String> s : statuses.entrySet()) {
            assertEquals(s.getValue(), ShmAbi.statusName(s.getKey()), "status " + s.getKey());
            assertEquals((int) s.getKey(), constant(s.getValue()), "ShmAbi." + s.getValue());
        }
        int past = statuses.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow() + 1;
        assertEquals("status " + past, ShmAbi.statusName(past));
        assertEquals("status -1", ShmAbi.statusName(-1));
        assertEquals(past, ShmAbi.STATUSES, "one counter per documented status");
    }

    @Test
    void operationsAreTheDocumentedOnes() throws IOException, ReflectiveOperationException {
        Map<Integer, String> ops = table(Files.readString(DOC), "## Operations");
        assertTrue(ops.size() >= 8, "operation table: " + ops);
        for (Map.Entry<Integer, String> op : ops.entrySet()) {
            assertEquals(op.getValue(), ShmAbi.opName(op.getKey()), "op " + op.getKey());
            assertEquals((int) op.getKey(), constant("OP_" + op.getValue()), "ShmAbi.OP_" + op.getValue());
        }
        int past = ops.keySet().stream().mapToInt(Integer::intValue).max().orElseThrow() + 1;
        assertEquals("op " + past, ShmAbi.opName(past));
        assertEquals("op 0", ShmAbi.opName(0));
        assertEquals("op -3", ShmAbi.opName(-3));
    }

    @Test
    void portsAndMailboxLayoutAreTheDocumentedOnes() throws IOException {
        String doc = Files.readString(DOC);
        Object[][] facts = {
            {"| `0x510` |", ShmAbi.CALL_PORT == 0x510},
            {"| `0x520 + n` |", ShmAbi.DOORBELL_BASE == 0x520},
            {"(n < 16)", ShmAbi.MAX_VMS == 16},
            {"one 4 KiB page", ShmAbi.MAILBOX_SIZE == 4096},
            {"| 0 | u32 | magic `0x4d48534b` (`\"KSHM\"`) |", ShmAbi.MAILBOX_MAGIC == 0x4d48534b && ShmAbi.OFF_MAGIC == 0},
            {"| 4 | u32 | `count`: requests in this call, 1–127 |", ShmAbi.OFF_COUNT == 4 && ShmAbi.MAX_REQUESTS == 127},
            {"| 8 | u32 | `completed` (out)", ShmAbi.OFF_COMPLETED == 8},
            {"| 12 | u32 | `error` (out)", ShmAbi.OFF_ERROR == 12},
            {"| 16 + 32·i | 32 bytes | request i |", ShmAbi.OFF_REQUESTS == 16 && ShmAbi.REQUEST_SIZE == 32},
            {"| 0 | u32 | `op` |", ShmAbi.REQ_OP == 0},
            {"| 4 | u32 | `status` (out) |", ShmAbi.REQ_STATUS == 4},
            {"| 8 | u64 | `a0` (in/out) |", ShmAbi.REQ_A0 == 8},
            {"| 16 | u64 | `a1` (in/out) |", ShmAbi.REQ_A1 == 16},
            {"| 24 | u64 | `a2` (in/out) |", ShmAbi.REQ_A2 == 24},
        };
        for (Object[] f : facts) {
            assertTrue(doc.contains((String) f[0]), "the ABI document says " + f[0]);
            assertTrue((boolean) f[1], "ShmAbi agrees with the document's " + f[0]);
        }
    }
}
