package dev.kvmctl.guests.shm;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.fuzz.FuzzCount;
import dev.kvmctl.memory.BlockAllocator;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing (Jazzer) of the hub's request decoding: {@link MailboxCodec} reading
 * mailboxes out of each guest's RAM and writing the answers back, and {@link HubRules} running
 * what it decoded, for 1 to 4 VMs over several calls, as {@link SharedMemoryHub}'s call loop does
 * (locate, open, read, execute, write, complete; a request that waits blocks its VM until the
 * rules say it is ready).
 *
 * <p>An input is a script: 4 bytes of set-up (VMs, block quota, byte quota in granules), then
 * events, each a byte (low nibble: the VM; high nibble 13: ring its doorbell, 14: end it, else a
 * call) and, for a call, the mailbox address the guest passes (u32 LE), a length n (u16 LE) and n
 * bytes that are the mailbox page's first bytes (the rest of the page is zero).
 *
 * <p>Oracles, independent of the code under test: the mailbox address is accepted exactly when
 * the ABI allows it (4 KiB aligned, not page 0, inside RAM); the header is accepted exactly when
 * magic and count (1..127) are right; each request the codec hands on is the one at its place in
 * the page; after every call the guest's RAM (filled with a canary) differs from before only in
 * the documented output fields of that one mailbox page ({@code completed}, {@code error}, and
 * status, a0..a2 of the requests answered); every answer is the one {@link HubModel} derives from
 * the ABI, and each VM's charge equals the model's and stays within its quota; at the end, with
 * every VM ended, every block is back and the allocator's invariants hold. Any exception is a
 * finding: nothing a guest writes may make the hub throw.
 */
class MailboxFuzzTest {
    /** Each guest's RAM: four pages, so pages 1 to 3 can hold a mailbox. */
    static final int RAM = 4 * ShmAbi.MAILBOX_SIZE;
    static final long REGION = 64 << 10;
    static final long BASE = SharedRegion.DEFAULT_GUEST_ADDRESS;
    private static final byte CANARY = 0x5a;
    private static final int RING = 13, END = 14;

    private static final FuzzCount COUNT = new FuzzCount("hub-mailbox");
    private static final GuestMemory[] RAMS = new GuestMemory[4];
    private static final byte[] actual = new byte[RAM];

    @MethodSource("seeds")
    // The bounds of the short run (scripts/fuzz.sh --short, in make test); the long run sets its own.
    @FuzzTest(maxExecutions = 3_000, maxDuration = "120s")
    @Timeout(10) // per input, in fuzzing mode (libFuzzer's -timeout)
    void hubMailbox(byte[] input) {
        Run run = new Run(input);
        run.run();
        COUNT.add(run.requests > 0 ? "requests answered" : run.calls > 0 ? "calls, no request answered" : "no call");
        COUNT.tally("calls", run.calls);
        COUNT.tally("calls with a bad address or header", run.refusedCalls);
        COUNT.tally("requests", run.requests);
        COUNT.tally("waits", run.waits);
    }

    @AfterAll
    static void report() {
        COUNT.report();
        for (int i = 0; i < RAMS.length; i++) {
            if (RAMS[i] != null) {
                RAMS[i].close();
                RAMS[i] = null;
            }
        }
    }

    /** One input: the rules, the model beside them, and the call each VM is blocked in. */
    private static final class Run {
        final ByteBuffer in;
        final int vms;
        final BlockAllocator allocator = new BlockAllocator(REGION);
        final HubRules rules;
        final HubModel model;
        final Pending[] blocked;
        final Request request = new Request();
        long calls, refusedCalls, requests, waits;

        Run(byte[] input) {
            in = ByteBuffer.wrap(input).order(ByteOrder.LITTLE_ENDIAN);
            int setUp = input.length >= 4 ? in.getInt(0) : 0;
            vms = 1 + (setUp & 3);
            long quotaBlocks = (setUp >>> 8) & 0xff;
            long quotaBytes = HubModel.GRANULE * ((setUp >>> 16) & 0xffff);
            rules = new HubRules(allocator, BASE, vms, new Quotas(quotaBlocks, quotaBytes));
            model = new HubModel(vms, BASE, REGION, quotaBlocks, quotaBytes);
            expect(rules.quotas().equals(new Quotas(model.quotaBlocks, model.quotaBytes)),
                    "the quotas in force are " + rules.quotas() + ", the ABI's defaults give " + model.quotaBlocks
                            + " blocks and " + model.quotaBytes + " bytes");
            blocked = new Pending[vms];
            in.position(Math.min(4, input.length));
        }

        void run() {
            while (in.hasRemaining()) {
                int event = in.get() & 0xff;
                int vm = (event & 0x0f) % vms;
                int kind = event >>> 4;
                if (kind == RING) {
                    rules.rang(vm);
                    model.rang(vm);
                } else if (kind == END) {
                    boolean first = rules.end(vm);
                    expect(first == !model.ended(vm), "end(" + vm + ") answered " + first + " for a VM that had "
                            + (model.ended(vm) ? "" : "not ") + "ended");
                    model.end(vm);
                    blocked[vm] = null;
                    checkCharges();
                } else {
                    if (in.remaining() < 6) {
                        break;
                    }
                    int eax = in.getInt();
                    int n = Math.min(Short.toUnsignedInt(in.getShort()) % (ShmAbi.MAILBOX_SIZE + 1), in.remaining());
                    byte[] content = new byte[n];
                    in.get(content);
                    calls++;
                    if (blocked[vm] != null) {
                        resume(vm);
                    } else {
                        call(vm, eax, content);
                    }
                }
            }
            for (int vm = 0; vm < vms; vm++) {
                rules.end(vm);
                model.end(vm);
            }
            checkCharges();
            expect(allocator.stats().blocksInUse() == 0 && model.liveBlocks() == 0,
                    allocator.stats().blocksInUse() + " blocks still in use after every VM ended");
            allocator.checkInvariants();
        }

        /** A guest's call with {@code eax}: its RAM is the canary but for the mailbox page. */
        void call(int vm, int eax, byte[] content) {
            GuestMemory ram = ram(vm);
            long address = Integer.toUnsignedLong(eax);
            boolean valid = address % ShmAbi.MAILBOX_SIZE == 0 && address >= ShmAbi.MAILBOX_SIZE
                    && address + ShmAbi.MAILBOX_SIZE <= RAM;
            long page = valid ? address : ShmAbi.MAILBOX_SIZE; // a page the hub must not touch, then
            ram.fill(0, RAM, CANARY);
            ram.fill(page, ShmAbi.MAILBOX_SIZE, (byte) 0);
            ram.write(page, content);
            byte[] expected = ram.read(0, RAM);

            long mailbox = MailboxCodec.locate(eax, RAM);
            expect(mailbox == (valid ? address : MailboxCodec.NO_MAILBOX),
                    String.format("mailbox address 0x%x located as %d", address, mailbox));
            if (mailbox == MailboxCodec.NO_MAILBOX) {
                rules.badMailboxAddress(vm);
                checkRam(vm, expected, "a call with an unusable mailbox address");
                refusedCalls++;
                return;
            }
            ByteBuffer page0 = ByteBuffer.wrap(expected).order(ByteOrder.LITTLE_ENDIAN);
            int magic = page0.getInt((int) mailbox + ShmAbi.OFF_MAGIC);
            int requests = page0.getInt((int) mailbox + ShmAbi.OFF_COUNT);
            boolean good = magic == ShmAbi.MAILBOX_MAGIC && requests >= 1 && requests <= ShmAbi.MAX_REQUESTS;
            int count = MailboxCodec.open(ram, mailbox);
            expect(count == (good ? requests : -1), String.format("a header of magic 0x%x, count %d opened as %d", magic, requests, count));
            rules.call(vm, !good);
            if (!good) {
                page0.putInt((int) mailbox + ShmAbi.OFF_COMPLETED, 0).putInt((int) mailbox + ShmAbi.OFF_ERROR, ShmAbi.BAD_MAILBOX);
                checkRam(vm, expected, "a call with a bad header");
                refusedCalls++;
                return;
            }
            page0.putInt((int) mailbox + ShmAbi.OFF_ERROR, ShmAbi.OK);
            process(vm, new Pending(mailbox, count), expected);
        }

        /** The next event of a VM blocked in a call: it goes on once the rules say it is ready. */
        void resume(int vm) {
            Pending p = blocked[vm];
            boolean ready = rules.ready(vm);
            expect(ready == model.ready(vm, p.waitingOp), "ready(" + vm + ") is " + ready + " for a VM waiting in "
                    + ShmAbi.opName(p.waitingOp));
            if (ready) {
                process(vm, p, ram(vm).read(0, RAM));
            }
        }

        /** SharedMemoryHub's loop over the requests, each answer checked against the model. */
        void process(int vm, Pending p, byte[] expected) {
            GuestMemory ram = ram(vm);
            ByteBuffer page = ByteBuffer.wrap(expected).order(ByteOrder.LITTLE_ENDIAN);
            Request r = request;
            while (p.next < p.count) {
                int at = (int) p.mailbox + ShmAbi.OFF_REQUESTS + p.next * ShmAbi.REQUEST_SIZE;
                int op = page.getInt(at + ShmAbi.REQ_OP);
                long a0 = page.getLong(at + ShmAbi.REQ_A0), a1 = page.getLong(at + ShmAbi.REQ_A1), a2 = page.getLong(at + ShmAbi.REQ_A2);
                MailboxCodec.read(ram, p.mailbox, p.next, r);
                expect(r.op == op && r.a0 == a0 && r.a1 == a1 && r.a2 == a2,
                        "request " + p.next + " decoded as " + r + ", the page holds op " + op + " (" + a0 + ", " + a1 + ", " + a2 + ")");
                int status = rules.execute(vm, r);
                expect(status == HubRules.WAIT || r.status == status, "execute returned " + status + " but set status " + r.status);
                model.check(vm, op, a0, a1, a2, status, r);
                checkCharges();
                if (status == HubRules.WAIT) {
                    p.waitingOp = op;
                    blocked[vm] = p;
                    checkRam(vm, expected, "a call that waits in request " + p.next);
                    waits++;
                    return;
                }
                MailboxCodec.write(ram, p.mailbox, p.next, r);
                page.putInt(at + ShmAbi.REQ_STATUS, status).putLong(at + ShmAbi.REQ_A0, r.a0)
                        .putLong(at + ShmAbi.REQ_A1, r.a1).putLong(at + ShmAbi.REQ_A2, r.a2);
                p.next++;
                requests++;
            }
            MailboxCodec.complete(ram, p.mailbox, p.count);
            page.putInt((int) p.mailbox + ShmAbi.OFF_COMPLETED, p.count);
            rules.takeYield(vm);
            blocked[vm] = null;
            checkRam(vm, expected, "a call of " + p.count + " requests");
        }

        void checkCharges() {
            for (int v = 0; v < vms; v++) {
                long blocks = rules.chargedBlocks(v), bytes = rules.chargedBytes(v);
                expect(blocks == model.chargedBlocks(v) && bytes == model.chargedBytes(v), "VM " + v + " is charged " + blocks
                        + " blocks, " + bytes + " bytes; the model says " + model.chargedBlocks(v) + ", " + model.chargedBytes(v));
                expect(blocks <= model.quotaBlocks && bytes <= model.quotaBytes, "VM " + v + " is over its quota");
            }
        }
    }

    /** A call in progress: its mailbox, its count, the next request, and what it waits in. */
    private static final class Pending {
        final long mailbox;
        final int count;
        int next;
        int waitingOp;

        Pending(long mailbox, int count) {
            this.mailbox = mailbox;
            this.count = count;
        }
    }

    /** Fails unless VM {@code vm}'s RAM is exactly {@code expected}: nothing else was written. */
    private static void checkRam(int vm, byte[] expected, String after) {
        ram(vm).read(0, actual, 0, RAM);
        int at = Arrays.mismatch(actual, expected);
        expect(at < 0, () -> String.format("after %s, VM %d's RAM at 0x%x holds 0x%02x, expected 0x%02x", after, vm, at,
                actual[at], expected[at]));
    }

    private static GuestMemory ram(int vm) {
        if (RAMS[vm] == null) {
            RAMS[vm] = GuestMemory.anonymous(RAM);
        }
        return RAMS[vm];
    }

    private static void expect(boolean ok, String message) {
        if (!ok) {
            throw new AssertionError(message);
        }
    }

    private static void expect(boolean ok, java.util.function.Supplier<String> message) {
        if (!ok) {
            throw new AssertionError(message.get());
        }
    }

    // ---- seeds: scripts written with the ABI's layout ----

    static Stream<Arguments> seeds() {
        long b = BASE;
        Script exchange = new Script(2, 0, 0)
                .call(0, 0x1000, mailbox(req(ShmAbi.OP_ALLOC, 100, 0, 0), req(ShmAbi.OP_ALLOC, 5000, 0, 0),
                        req(ShmAbi.OP_SEND, b, 100, 1), req(ShmAbi.OP_REPORT, 1, 100, 0), req(ShmAbi.OP_YIELD, 0, 0, 0)))
                .call(1, 0x2000, mailbox(req(ShmAbi.OP_RECV, 0, 0, 0), req(ShmAbi.OP_FREE, b, 0, 0), req(ShmAbi.OP_POLL, 0, 0, 0)))
                .call(1, 0x3000, mailbox(req(ShmAbi.OP_RECV, 0, 0, 0), req(ShmAbi.OP_FREE, b, 0, 0)))
                .call(0, 0x1000, mailbox(req(ShmAbi.OP_ALLOC, 64, 0, 0), req(ShmAbi.OP_SEND, b, 64, 1)))
                .call(1, 0, new byte[0]) // resumes VM 1's RECV
                .ring(0)
                .call(0, 0x2000, mailbox(req(ShmAbi.OP_WAIT, 0, 0, 0), req(ShmAbi.OP_WAIT, 0, 0, 0)))
                .end(1)
                .call(0, 0x1000, new byte[0]) // resumes VM 0's second WAIT: no one is left
                .call(0, 0x1000, mailbox(req(ShmAbi.OP_RECV, 0, 0, 0), req(ShmAbi.OP_FREE, b + 128, 0, 0)));
        Script headers = new Script(1, 0, 0)
                .call(0, 0x1000, header(0x12345678, 1)).call(0, 0x1000, header(ShmAbi.MAILBOX_MAGIC, 0))
                .call(0, 0x2000, header(ShmAbi.MAILBOX_MAGIC, 128)).call(0, 0x3000, header(ShmAbi.MAILBOX_MAGIC, -1))
                .call(0, 0, mailbox(req(ShmAbi.OP_YIELD, 0, 0, 0))).call(0, 0x800, mailbox(req(ShmAbi.OP_YIELD, 0, 0, 0)))
                .call(0, 0x1001, mailbox(req(ShmAbi.OP_YIELD, 0, 0, 0))).call(0, RAM, mailbox(req(ShmAbi.OP_YIELD, 0, 0, 0)))
                .call(0, 0xfffff000, mailbox(req(ShmAbi.OP_YIELD, 0, 0, 0))).call(0, -1, mailbox(req(ShmAbi.OP_YIELD, 0, 0, 0)));
        Script quota = new Script(1, 3, 0)
                .call(0, 0x1000, mailbox(req(ShmAbi.OP_ALLOC, 64, 0, 0), req(ShmAbi.OP_ALLOC, 64, 0, 0),
                        req(ShmAbi.OP_ALLOC, 64, 0, 0), req(ShmAbi.OP_ALLOC, 64, 0, 0), req(ShmAbi.OP_FREE, b, 0, 0),
                        req(ShmAbi.OP_ALLOC, 64, 0, 0), req(ShmAbi.OP_FREE, b, 0, 0), req(ShmAbi.OP_FREE, b, 0, 0)));
        Script byteQuota = new Script(3, 0, 16)
                .call(0, 0x1000, mailbox(req(ShmAbi.OP_ALLOC, 1000, 0, 0), req(ShmAbi.OP_ALLOC, 64, 0, 0),
                        req(ShmAbi.OP_SEND, b, 1000, 2), req(ShmAbi.OP_ALLOC, 64, 0, 0)))
                .call(2, 0x1000, mailbox(req(ShmAbi.OP_POLL, 0, 0, 0), req(ShmAbi.OP_ALLOC, 1024, 0, 0)))
                .end(2)
                .call(0, 0x1000, mailbox(req(ShmAbi.OP_ALLOC, 1024, 0, 0)));
        long[][] full = new long[ShmAbi.MAX_REQUESTS][];
        Arrays.fill(full, req(ShmAbi.OP_ALLOC, 512, 0, 0));
        Script fill = new Script(1, 0, 0).call(0, 0x3000, mailbox(full)).call(0, 0x3000, mailbox(full));
        long[] hostile = {0, 1, -1, 63, 64, 65, b - 1, b, b + 64, b + REGION, Long.MAX_VALUE, Long.MIN_VALUE};
        long[][] odd = new long[24][];
        for (int i = 0; i < odd.length; i++) {
            odd[i] = req(i % 11 - 1, hostile[i % hostile.length], hostile[(i * 5 + 1) % hostile.length], i % 6 - 1);
        }
        Script any = new Script(4, 0, 0).call(3, 0x2000, mailbox(odd)).end(0).call(2, 0x1000, mailbox(odd));
        return Stream.of(Arguments.of(Named.of("two VMs exchange a block", exchange.bytes())),
                Arguments.of(Named.of("bad headers and addresses", headers.bytes())),
                Arguments.of(Named.of("block quota", quota.bytes())),
                Arguments.of(Named.of("byte quota, a charge held by a peer", byteQuota.bytes())),
                Arguments.of(Named.of("a region filled by full mailboxes", fill.bytes())),
                Arguments.of(Named.of("every op with hostile arguments", any.bytes())));
    }

    /** A request's op and a0..a2. */
    private static long[] req(int op, long a0, long a1, long a2) {
        return new long[] {op, a0, a1, a2};
    }

    /** A mailbox page's bytes up to its last request, laid out as docs/shared-memory-abi.md says. */
    private static byte[] mailbox(long[]... requests) {
        ByteBuffer page = ByteBuffer.allocate(ShmAbi.OFF_REQUESTS + requests.length * ShmAbi.REQUEST_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        page.putInt(ShmAbi.MAILBOX_MAGIC).putInt(requests.length).putInt(-1).putInt(0);
        for (long[] r : requests) {
            page.putInt((int) r[0]).putInt(0).putLong(r[1]).putLong(r[2]).putLong(r[3]);
        }
        return page.array();
    }

    private static byte[] header(int magic, int count) {
        return ByteBuffer.allocate(ShmAbi.OFF_REQUESTS + ShmAbi.REQUEST_SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putInt(magic).putInt(count).putInt(-1).putInt(0).putInt(ShmAbi.OP_YIELD).array();
    }

    /** An input for {@link #hubMailbox}, event by event. */
    private static final class Script {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Script(int vms, int quotaBlocks, int quotaGranules) {
            put(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt((vms - 1) | quotaBlocks << 8 | quotaGranules << 16).array());
        }

        Script call(int vm, int eax, byte[] page) {
            out.write(vm);
            put(ByteBuffer.allocate(6).order(ByteOrder.LITTLE_ENDIAN).putInt(eax).putShort((short) page.length).array());
            put(page);
            return this;
        }

        Script ring(int vm) {
            out.write(RING << 4 | vm);
            return this;
        }

        Script end(int vm) {
            out.write(END << 4 | vm);
            return this;
        }

        private void put(byte[] bytes) {
            out.write(bytes, 0, bytes.length);
        }

        byte[] bytes() {
            return out.toByteArray();
        }
    }
}
