package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.MachineCounters;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.Test;

/**
 * The snapshot file's codecs without KVM or a file: the 64-byte header ({@link SnapshotFormat}),
 * the machine configuration ({@link GuestConfigCodec}) and the device counters
 * ({@link DeviceStateCodec}). Expected bytes are written out here from the documented layouts, and
 * every check is met exactly at its limit and one step past it.
 */
class SnapshotCodecsTest {
    private static final Path FILE = Path.of("/snapshots/g.snap");
    private static final long PAGE = 4096;

    // ---- the header ----

    /** A header as the format documents it, its own checksum computed here. */
    static ByteBuffer header(long magic, int version, int headerSize, long metaOffset, long metaLength, long memoryOffset,
                             long memorySize, int metaCrc, int memCrc) {
        ByteBuffer h = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        h.putLong(magic).putInt(version).putInt(headerSize).putLong(metaOffset).putLong(metaLength).putLong(memoryOffset)
                .putLong(memorySize).putInt(metaCrc).putInt(memCrc);
        CRC32C crc = new CRC32C();
        crc.update(h.array(), 0, 56);
        h.putInt((int) crc.getValue()).putInt(0).flip();
        return h;
    }

    static ByteBuffer good(long metaLength, long memorySize) {
        long memoryOffset = (64 + metaLength + PAGE - 1) / PAGE * PAGE;
        return header(Snapshot.MAGIC, Snapshot.VERSION, 64, 64, metaLength, memoryOffset, memorySize, 0x1234, 0x5678);
    }

    static void refused(ByteBuffer h, long fileSize, String message) {
        ContextFormatException e = assertThrows(ContextFormatException.class, () -> SnapshotFormat.decodeHeader(h, fileSize, FILE));
        assertEquals(FILE + message, e.getMessage());
    }

    @Test
    void theHeaderIsWrittenAsDocumented() {
        ByteBuffer written = SnapshotFormat.encodeHeader(100, 16 * PAGE, 0x1234, 0x5678);
        assertEquals(64, written.remaining());
        assertArrayEquals(good(100, 16 * PAGE).array(), written.array());
        byte[] magic = new byte[8];
        ByteBuffer.wrap(magic).order(ByteOrder.LITTLE_ENDIAN).putLong(Snapshot.MAGIC);
        assertEquals("KVMCSNAP", new String(magic, java.nio.charset.StandardCharsets.US_ASCII));
    }

    @Test
    void aVersion1HeaderIsStillRead() {
        ByteBuffer v1 = header(Snapshot.MAGIC, 1, 64, 64, 100, PAGE, 16 * PAGE, 0x1234, 0x5678);
        assertEquals(new SnapshotFormat.Header(100, PAGE, 16 * PAGE, 0x1234, 0x5678), SnapshotFormat.decodeHeader(v1, 17 * PAGE, FILE));
    }

    @Test
    void aHeaderThatFitsItsFileExactlyIsRead() {
        SnapshotFormat.Header h = SnapshotFormat.decodeHeader(good(100, 16 * PAGE), PAGE + 16 * PAGE, FILE);
        assertEquals(new SnapshotFormat.Header(100, PAGE, 16 * PAGE, 0x1234, 0x5678), h);
        // Metadata up to the last byte of the first page, and at the limit of 1 MiB.
        assertEquals(PAGE, SnapshotFormat.decodeHeader(good(PAGE - 64, PAGE), 2 * PAGE, FILE).memoryOffset());
        assertEquals(2 * PAGE, SnapshotFormat.decodeHeader(good(PAGE - 63, PAGE), 3 * PAGE, FILE).memoryOffset());
        long max = SnapshotFormat.MAX_METADATA;
        assertEquals(max, SnapshotFormat.decodeHeader(good(max, PAGE), SnapshotFormat.memoryOffset(max) + PAGE, FILE).metadataLength());
        assertEquals(1, SnapshotFormat.decodeHeader(good(1, PAGE), 2 * PAGE, FILE).metadataLength());
    }

    @Test
    void aHeaderThatDoesNotDescribeItsFileIsRefusedSayingWhy() {
        refused(header(Snapshot.MAGIC + 1, 1, 64, 64, 100, PAGE, PAGE, 0, 0), 2 * PAGE, " is not a kvmctl snapshot (wrong magic number)");
        refused(header(Snapshot.MAGIC, 3, 64, 64, 100, PAGE, PAGE, 0, 0), 2 * PAGE,
                " is a version 3 snapshot; this kvmctl reads versions 1 to 2: restore it with the newer kvmctl that wrote it");
        refused(header(Snapshot.MAGIC, 0, 64, 64, 100, PAGE, PAGE, 0, 0), 2 * PAGE, " is a version 0 snapshot; this kvmctl reads versions 1 to 2");
        ByteBuffer flipped = good(100, PAGE);
        flipped.put(20, (byte) (flipped.get(20) ^ 1));
        refused(flipped, 2 * PAGE, " is corrupted: its header checksum does not match");
        String impossible = " is corrupted: its header describes an impossible layout";
        long max = SnapshotFormat.MAX_METADATA;
        for (ByteBuffer h : List.of(
                header(Snapshot.MAGIC, 1, 65, 64, 100, PAGE, PAGE, 0, 0),     // header size
                header(Snapshot.MAGIC, 1, 64, 65, 100, PAGE, PAGE, 0, 0),     // metadata offset
                header(Snapshot.MAGIC, 1, 64, 64, 0, PAGE, PAGE, 0, 0),       // no metadata
                header(Snapshot.MAGIC, 1, 64, 64, -1, PAGE, PAGE, 0, 0),
                header(Snapshot.MAGIC, 1, 64, 64, max + 1, SnapshotFormat.memoryOffset(max + 1), PAGE, 0, 0),
                header(Snapshot.MAGIC, 1, 64, 64, 100, 2 * PAGE, PAGE, 0, 0), // memory not at the next page
                header(Snapshot.MAGIC, 1, 64, 64, 100, PAGE, 0, 0, 0),        // no memory
                header(Snapshot.MAGIC, 1, 64, 64, 100, PAGE, -PAGE, 0, 0),
                header(Snapshot.MAGIC, 1, 64, 64, 100, PAGE, PAGE + 1, 0, 0))) { // not whole pages
            refused(h, 100 * PAGE, impossible);
        }
        refused(good(100, 16 * PAGE), 17 * PAGE - 1,
                " is truncated: its header promises 65536 bytes of memory from offset 4096, the file has 69631 bytes");
        refused(good(100, 16 * PAGE), 17 * PAGE + 3, " is corrupted: 3 bytes follow its memory image");
    }

    @Test
    void offsetsAreRoundedUpToWholePages() {
        assertEquals(0, SnapshotFormat.align(0));
        assertEquals(PAGE, SnapshotFormat.align(1));
        assertEquals(PAGE, SnapshotFormat.align(PAGE));
        assertEquals(2 * PAGE, SnapshotFormat.align(PAGE + 1));
        assertEquals(PAGE, SnapshotFormat.memoryOffset(PAGE - 64));
        assertEquals(2 * PAGE, SnapshotFormat.memoryOffset(PAGE - 63));
        byte[] bytes = {1, 2, 3, 4, 5};
        CRC32C crc = new CRC32C();
        crc.update(bytes, 0, 3);
        assertEquals((int) crc.getValue(), SnapshotFormat.crc(bytes, 3));
    }

    // ---- runs of non-zero pages ----

    /** The runs {@link SnapshotFormat#forEachDataRun} reports for {@code n} bytes whose non-zero pages are {@code data}. */
    static List<String> runs(int n, int... data) throws IOException {
        ByteBuffer chunk = ByteBuffer.allocateDirect(SnapshotFormat.CHUNK);
        for (int page : data) {
            chunk.put(page * (int) PAGE + (int) PAGE - 1, (byte) 1); // the last byte of the page
        }
        List<String> runs = new ArrayList<>();
        SnapshotFormat.forEachDataRun(chunk, n, (from, length) -> runs.add(from / PAGE + "+" + length / PAGE));
        return runs;
    }

    @Test
    void dataRunsAreTheMaximalRunsOfNonZeroPages() throws IOException {
        int chunkPages = SnapshotFormat.CHUNK / (int) PAGE;
        assertEquals(List.of(), runs(SnapshotFormat.CHUNK));
        assertEquals(List.of("0+1"), runs(SnapshotFormat.CHUNK, 0));
        assertEquals(List.of("0+2", "5+1", (chunkPages - 2) + "+2"), runs(SnapshotFormat.CHUNK, 0, 1, 5, chunkPages - 2, chunkPages - 1));
        assertEquals(List.of("3+1"), runs(4 * (int) PAGE, 3, 4), "only the first n bytes count");
        // A page whose only data is its first byte is data too.
        ByteBuffer first = ByteBuffer.allocateDirect(SnapshotFormat.CHUNK);
        first.put(2 * (int) PAGE, (byte) 1);
        List<String> found = new ArrayList<>();
        SnapshotFormat.forEachDataRun(first, SnapshotFormat.CHUNK, (from, length) -> found.add(from / PAGE + "+" + length / PAGE));
        assertEquals(List.of("2+1"), found);
        assertFalse(SnapshotFormat.isZero(first, 2 * (int) PAGE, (int) PAGE));
        assertEquals(List.of(), runs(3 * (int) PAGE, 3));
        ByteBuffer zeros = ByteBuffer.allocate(SnapshotFormat.CHUNK);
        assertTrue(SnapshotFormat.isZero(zeros, 0, SnapshotFormat.CHUNK));
        zeros.put(100, (byte) 7);
        assertFalse(SnapshotFormat.isZero(zeros, 0, 101));
        assertTrue(SnapshotFormat.isZero(zeros, 0, 100));
        assertTrue(SnapshotFormat.isZero(zeros, 101, 1000));
    }

    // ---- the machine configuration ----

    /** The configuration's bytes as documented: DataOutputStream's big-endian encoding; one vCPU from version 2. */
    static byte[] config(int version, String name, String mode, int ring, long memory, long[] args, int count, boolean irqchip,
                         int extra) throws IOException {
        return config(version, name, mode, ring, memory, args, count, irqchip, 1, extra);
    }

    /** As above, with {@code cpus} vCPUs (written from version 2 on). */
    static byte[] config(int version, String name, String mode, int ring, long memory, long[] args, int count, boolean irqchip,
                         int cpus, int extra) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(version);
            out.writeUTF(name);
            out.writeUTF(mode);
            out.writeInt(ring);
            out.writeLong(memory);
            out.writeInt(count);
            for (long a : args) {
                out.writeLong(a);
            }
            out.writeBoolean(irqchip);
            if (version >= 2) {
                out.writeInt(cpus);
            }
            out.write(new byte[extra]);
        }
        return bytes.toByteArray();
    }

    @Test
    void theConfigurationIsWrittenAsDocumentedAndReadBack() throws IOException {
        long[] args = {1, -2, 3, Long.MAX_VALUE};
        GuestConfig c = GuestConfig.withoutImage("hello-long.elf").mode(CpuMode.LONG).ring(3).memorySize(32L << 20).args(args)
                .irqchip(true).cpus(3).build();
        byte[] bytes = GuestConfigCodec.encode(c);
        assertArrayEquals(config(2, "hello-long.elf", "LONG", 3, 32L << 20, args, 4, true, 3, 0), bytes);
        GuestConfig back = GuestConfigCodec.decode(bytes, null);
        assertEquals("hello-long.elf", back.name());
        assertEquals(CpuMode.LONG, back.mode());
        assertEquals(3, back.ring());
        assertEquals(32L << 20, back.memorySize());
        assertArrayEquals(args, back.args());
        assertTrue(back.irqchip());
        assertEquals(3, back.cpus());
        Console console = new Console(java.io.OutputStream.nullOutputStream(), "restored");
        assertSame(console, GuestConfigCodec.decode(bytes, console).console(), "the console given, not saved in the file");
        assertNotSame(console, back.console());
        GuestConfig real = GuestConfigCodec.decode(config(1, "r", "REAL", 0, PAGE, new long[0], 0, false, 0), null);
        assertEquals(CpuMode.REAL, real.mode());
        assertEquals(0, real.args().length);
        assertFalse(real.irqchip());
        assertEquals(1, real.cpus(), "a version 1 configuration has one vCPU");
    }

    @Test
    void aDamagedConfigurationIsRefusedSayingWhy() throws IOException {
        String prefix = "the snapshot's machine configuration ";
        Object[][] cases = {
            {config(3, "g", "LONG", 0, PAGE, new long[0], 0, false, 0), "unknown machine configuration version 3 in snapshot"},
            {config(2, "g", "LONG", 0, PAGE, new long[0], 0, false, 0, 0), prefix + "is unreadable: a guest has 1 to 32 vCPUs, got 0"},
            {config(2, "g", "REAL", 0, PAGE, new long[0], 0, false, 2, 0),
                prefix + "is unreadable: SMP guests boot in long mode only; a real-mode guest has one vCPU, not 2"},
            {config(2, "g", "LONG", 0, PAGE, new long[0], 0, false, 1, 2), prefix + "has 2 stray bytes at its end"},
            {config(1, "g", "LONG", 0, PAGE, new long[5], 5, false, 0), prefix + "lists 5 guest arguments; a guest has at most 4"},
            {config(1, "g", "LONG", 0, PAGE, new long[0], -1, false, 0), prefix + "lists -1 guest arguments; a guest has at most 4"},
            {config(1, "g", "LONG", 0, PAGE, new long[0], Integer.MAX_VALUE, false, 0),
                prefix + "lists 2147483647 guest arguments; a guest has at most 4"},
            {config(1, "g", "LONG", 0, PAGE, new long[0], 0, false, 1), prefix + "has 1 stray bytes at its end"},
            {config(1, "g", "LONG", 0, PAGE, new long[0], 0, false, 9), prefix + "has 9 stray bytes at its end"},
            {config(1, "g", "LONG", 0, PAGE, new long[1], 2, false, 0), prefix + "is unreadable: it ends early"},
            {config(1, "g", "SIDEWAYS", 0, PAGE, new long[0], 0, false, 0), null},
            {config(1, "g", "LONG", 1, PAGE, new long[0], 0, false, 0), prefix + "is unreadable: ring must be 0 or 3, got 1"},
            {config(1, "g", "LONG", 0, PAGE + 1, new long[0], 0, false, 0), null},
            {new byte[0], prefix + "is unreadable: it ends early"},
        };
        for (Object[] c : cases) {
            ContextFormatException e = assertThrows(ContextFormatException.class, () -> GuestConfigCodec.decode((byte[]) c[0], null));
            if (c[1] != null) {
                assertEquals(c[1], e.getMessage());
            } else {
                assertTrue(e.getMessage().startsWith(prefix + "is unreadable: "), e.getMessage());
            }
        }
        // Four arguments is the most a guest has, and is read.
        assertEquals(4, GuestConfigCodec.decode(config(1, "g", "LONG", 0, PAGE, new long[4], 4, false, 0), null).args().length);
    }

    // ---- the device counters ----

    @Test
    void deviceCountersAreWrittenAsDocumentedAndReadBack() {
        int kinds = MachineCounters.KINDS;
        long[] exits = new long[kinds];
        for (int i = 0; i < kinds; i++) {
            exits[i] = 1000L * i + 7;
        }
        MachineCounters c = new MachineCounters(exits, 11, 12, 13, 14, 1_000_000_007L);
        byte[] bytes = DeviceStateCodec.encode(c);
        ByteBuffer expected = ByteBuffer.allocate(8 * (1 + kinds + 5)).order(ByteOrder.LITTLE_ENDIAN).putLong(kinds);
        for (long e : exits) {
            expected.putLong(e);
        }
        expected.putLong(11).putLong(12).putLong(13).putLong(14).putLong(1_000_000_007L);
        assertArrayEquals(expected.array(), bytes);
        MachineCounters back = DeviceStateCodec.decode(bytes);
        assertArrayEquals(exits, back.exits());
        assertEquals(List.of(11L, 12L, 13L, 14L, 1_000_000_007L), List.of(back.unclaimedPortReads(), back.unclaimedPortWrites(),
                back.unclaimedMmioReads(), back.unclaimedMmioWrites(), back.runNanos()));
    }

    @Test
    void deviceCountersOfAnotherShapeAreRefused() {
        byte[] good = DeviceStateCodec.encode(MachineCounters.zero());
        int kinds = MachineCounters.KINDS;
        for (byte[] bad : List.of(java.util.Arrays.copyOf(good, good.length - 8), java.util.Arrays.copyOf(good, good.length + 8))) {
            ContextFormatException e = assertThrows(ContextFormatException.class, () -> DeviceStateCodec.decode(bad));
            assertEquals("device state of " + bad.length + " bytes counting " + kinds + " exit kinds does not fit this kvmctl (at most "
                    + kinds + " kinds)", e.getMessage());
        }
        ContextFormatException empty = assertThrows(ContextFormatException.class, () -> DeviceStateCodec.decode(new byte[0]));
        assertEquals("device state of 0 bytes counting -1 exit kinds does not fit this kvmctl (at most " + kinds + " kinds)",
                empty.getMessage());
        byte[] moreKinds = java.util.Arrays.copyOf(good, good.length + 8);
        ByteBuffer.wrap(moreKinds).order(ByteOrder.LITTLE_ENDIAN).putLong(0, kinds + 1);
        assertThrows(ContextFormatException.class, () -> DeviceStateCodec.decode(moreKinds));
    }

    @Test
    void deviceCountersOfAnOlderKvmctlWithFewerExitKindsReadWithTheNewKindsAtZero() {
        int older = 15; // the kinds counted before issue 9 added the rest of the headers' exits
        ByteBuffer b = ByteBuffer.allocate(8 * (1 + older + 5)).order(ByteOrder.LITTLE_ENDIAN).putLong(older);
        for (int i = 0; i < older; i++) {
            b.putLong(i + 1);
        }
        b.putLong(11).putLong(12).putLong(13).putLong(14).putLong(15);
        MachineCounters back = DeviceStateCodec.decode(b.array());
        assertEquals(MachineCounters.KINDS, back.exits().length);
        for (int i = 0; i < MachineCounters.KINDS; i++) {
            assertEquals(i < older ? i + 1 : 0, back.exits()[i], "exit kind " + i);
        }
        assertEquals(15L, back.runNanos());
    }
}
