package dev.kvmctl.contexts;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.fuzz.FuzzCount;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.stream.Stream;
import java.util.zip.CRC32C;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Coverage-guided fuzzing (Jazzer) of the snapshot decoder: {@link Snapshot#inspect(Path)} (header,
 * layout, the three checksums, the metadata container, the machine configuration) on a file made
 * from the input, and, for what it accepts, the decoding a restore does next:
 * {@link HypervisorContext#decode} and {@link VcpuContext#decode} of the two context sections.
 * Self-contained: the snapshot format is being rewritten; only {@link #decode} names its calls.
 *
 * <p>Seed: a real snapshot written by {@link Snapshot#write} from a tiny real-mode guest
 * ({@code hello-real.bin}, 64 KiB of RAM), without its RAM image. An input is a flags byte and
 * the first bytes of a snapshot file (header and metadata). The file written from it gets the RAM
 * image back as zeros (a sparse tail up to the length the header claims, if that is at most 4 MiB
 * more), and, as the flags say, the checksums a mutation broke are made right again, so that the
 * fuzzer gets past them to the decoding behind: bit 0 the nested containers' CRCs, bit 1 the
 * metadata's, bit 2 the memory image's, bit 3 the header's; bit 4 leaves the file as it is; bits
 * 5 and 6 make the metadata's or the memory image's checksum wrong (before the header's is set),
 * so that a check that is skipped shows.
 *
 * <p>Oracles, read from the file independently of the decoder: an accepted file has the magic,
 * version 1, a page-aligned RAM image of a positive number of pages after the metadata and inside
 * the file, and all three checksums right; the {@link Snapshot.Info} repeats those figures and
 * describes a machine kvmctl can build (ring 0 or 3, at most four arguments). Anything refused is
 * refused with {@link ContextFormatException}; any other exception, or a decode that allocates
 * more than a small multiple of the file, is a finding.
 */
class SnapshotDecoderFuzzTest {
    private static final int HEADER = 64;
    private static final long PAGE = 4096;
    /** The largest zero tail the harness adds: a larger claimed RAM image leaves the file truncated. */
    private static final long MAX_TAIL = 4 << 20;
    private static final int FIX_NESTED = 1, FIX_META = 2, FIX_MEMORY = 4, FIX_HEADER = 8, AS_IS = 16, BREAK_META = 32,
            BREAK_MEMORY = 64;

    private static final FuzzCount COUNT = new FuzzCount("snapshot-decoder");
    private static Path dir;
    private static Path file;
    private static Kvm kvm;
    private static final VcpuContext[] vcpus = new VcpuContext[2];

    /** The seed is a real snapshot, of a real guest. */
    @BeforeAll
    static void needKvm() {
        KvmAvailable.assumeKvm();
    }

    static Stream<Arguments> seeds() throws IOException {
        Path snap = dir().resolve("seed.snap");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        GuestConfig config = GuestConfig.builder(BuiltinImages.load("hello-real")).mode(CpuMode.REAL)
                .memorySize(64 << 10).console(new Console(out, null)).build();
        try (Machine m = Machine.boot(kvm(), config)) {
            RunResult r = m.run(Duration.ofSeconds(30));
            if (r.outcome() != Outcome.HALTED) {
                throw new IllegalStateException("the seed guest did not halt: " + r);
            }
            Snapshot.write(m, snap, done -> {});
        }
        byte[] whole = Files.readAllBytes(snap);
        long memoryOffset = ByteBuffer.wrap(whole).order(ByteOrder.LITTLE_ENDIAN).getLong(32);
        byte[] seed = new byte[(int) memoryOffset + 1];
        seed[0] = FIX_NESTED | FIX_META | FIX_MEMORY | FIX_HEADER;
        System.arraycopy(whole, 0, seed, 1, (int) memoryOffset);
        byte[] asIs = seed.clone();
        asIs[0] = 0; // the zero RAM image no longer matches the memory checksum: refused
        byte[] badMeta = seed.clone();
        badMeta[0] |= BREAK_META;
        byte[] badMemory = seed.clone();
        badMemory[0] |= BREAK_MEMORY;
        return Stream.of(Arguments.of(Named.of("hello-real, 64 KiB, checksums made right", seed)),
                Arguments.of(Named.of("hello-real, 64 KiB, RAM zeroed", asIs)),
                Arguments.of(Named.of("hello-real, 64 KiB, wrong metadata checksum", badMeta)),
                Arguments.of(Named.of("hello-real, 64 KiB, wrong memory checksum", badMemory)));
    }

    @MethodSource("seeds")
    // The bounds of the short run (scripts/fuzz.sh --short, in make test); the long run sets its own.
    @FuzzTest(maxExecutions = 5_000, maxDuration = "120s")
    @Timeout(10) // per input, in fuzzing mode (libFuzzer's -timeout)
    void snapshotDecoder(byte[] input) throws IOException {
        if (input.length == 0) {
            COUNT.add("empty");
            return;
        }
        long fileSize = writeFile(input[0], Arrays.copyOfRange(input, 1, input.length));
        COUNT.add(check(fileSize));
    }

    @AfterAll
    static void report() throws IOException {
        COUNT.report();
        if (kvm != null) {
            kvm.close();
            kvm = null;
        }
        if (dir != null) {
            try (Stream<Path> files = Files.list(dir)) {
                for (Path p : (Iterable<Path>) files::iterator) {
                    Files.delete(p);
                }
            }
            Files.delete(dir);
            dir = null;
            file = null;
        }
    }

    /** What the decoder is asked: everything a restore reads before it touches a VM. */
    private static Snapshot.Info decode(Path snapshot) {
        Snapshot.Info info = Snapshot.inspect(snapshot);
        try {
            Sections meta = Sections.decode(Arrays.copyOfRange(Files.readAllBytes(snapshot), HEADER,
                    HEADER + (int) header(snapshot).getLong(24)));
            new HypervisorContext().decode(meta.get(Sections.HYPERVISOR_CONTEXT));
            if (kvm != null) {
                int i = info.irqchip() ? 1 : 0;
                if (vcpus[i] == null) {
                    vcpus[i] = new VcpuContext(kvm, info.irqchip());
                }
                vcpus[i].decode(meta.get(Sections.VCPU_CONTEXT));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return info;
    }

    private static String check(long fileSize) throws IOException {
        Snapshot.Info info;
        try {
            info = decode(file);
        } catch (ContextFormatException e) {
            checkAllocation(fileSize, "refusing");
            return "refused: " + FuzzCount.reason(e, file.toString());
        }
        checkAllocation(fileSize, "decoding");
        byte[] bytes = Files.readAllBytes(file);
        ByteBuffer h = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        expect(bytes.length >= HEADER && h.getLong(0) == Snapshot.MAGIC && h.getInt(8) == Snapshot.VERSION,
                "accepted a file without the magic and version 1");
        long metaOffset = h.getLong(16), metaLength = h.getLong(24), memoryOffset = h.getLong(32), memorySize = h.getLong(40);
        expect(metaOffset >= HEADER && metaLength > 0 && metaOffset + metaLength <= memoryOffset && memoryOffset % PAGE == 0
                        && memorySize > 0 && memorySize % PAGE == 0 && memoryOffset + memorySize <= bytes.length,
                String.format("accepted an impossible layout: metadata [%d, +%d), RAM [%d, +%d) in a %d-byte file",
                        metaOffset, metaLength, memoryOffset, memorySize, bytes.length));
        expect(h.getInt(56) == crc(bytes, 0, 56), "accepted a wrong header checksum");
        expect(h.getInt(48) == crc(bytes, (int) metaOffset, (int) metaLength), "accepted a wrong metadata checksum");
        expect(h.getInt(52) == crc(bytes, (int) memoryOffset, (int) memorySize), "accepted a wrong memory checksum");
        expect(info.memoryOffset() == memoryOffset && info.memorySize() == memorySize && info.storedBytes() == fileSize,
                "Info " + info + " does not repeat the header");
        expect(info.name() != null && info.mode() != null && (info.ring() == 0 || info.ring() == 3)
                && info.args() != null && info.args().length <= 4, "Info describes no machine kvmctl builds: " + info);
        return "accepted";
    }

    /**
     * A decode (or its refusal) allocates at most 8 bytes per byte of the file and 1 MiB more.
     * Measured on a second decode, so that a first use of some code (class loading) is not counted.
     */
    private static void checkAllocation(long fileSize, String what) {
        long before = FuzzCount.allocatedBytes();
        try {
            decode(file);
        } catch (ContextFormatException e) {
            // the outcome was seen the first time; only the allocation is measured here
        }
        long used = FuzzCount.allocatedBytes() - before;
        long bound = 8 * fileSize + (1 << 20);
        expect(used <= bound, what + " a " + fileSize + "-byte snapshot allocated " + used + " bytes, more than " + bound);
    }

    /** Writes the snapshot file for one input; returns its size. */
    private static long writeFile(byte flags, byte[] prefix) throws IOException {
        ByteBuffer h = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN);
        long length = prefix.length;
        if (prefix.length >= HEADER) {
            long metaOffset = h.getLong(16), metaLength = h.getLong(24), memoryOffset = h.getLong(32), memorySize = h.getLong(40);
            boolean metaInside = metaOffset >= HEADER && metaLength > 0 && metaLength <= prefix.length - metaOffset;
            if ((flags & FIX_NESTED) != 0 && metaInside) {
                fixNested(prefix, (int) metaOffset, (int) metaLength);
            }
            if ((flags & FIX_META) != 0 && metaInside) {
                h.putInt(48, crc(prefix, (int) metaOffset, (int) metaLength));
            }
            if ((flags & BREAK_META) != 0) {
                h.putInt(48, ~h.getInt(48));
            }
            boolean tail = (flags & AS_IS) == 0 && memoryOffset >= prefix.length && memorySize >= 0
                    && memoryOffset <= prefix.length + MAX_TAIL && memorySize <= MAX_TAIL;
            if (tail) {
                length = memoryOffset + memorySize;
                if ((flags & FIX_MEMORY) != 0) {
                    h.putInt(52, zeroCrc(memorySize));
                }
                if ((flags & BREAK_MEMORY) != 0) {
                    h.putInt(52, ~h.getInt(52));
                }
            }
            if ((flags & FIX_HEADER) != 0) {
                h.putInt(56, crc(prefix, 0, 56));
            }
        }
        try (RandomAccessFile f = new RandomAccessFile(file().toFile(), "rw")) {
            f.setLength(0);
            f.write(prefix);
            f.setLength(length);
        }
        return length;
    }

    /** Sets the CRC of each container nested in the metadata (sections 31, 32), then the metadata's own. */
    private static void fixNested(byte[] b, int at, int length) {
        ByteBuffer m = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        int end = at + length;
        if (length < 24) {
            return;
        }
        int count = m.getInt(at + 16);
        int p = at + 20;
        for (int i = 0; i < count && p + 8 <= end - 4; i++) {
            int tag = m.getInt(p);
            int len = m.getInt(p + 4);
            p += 8;
            if (len < 0 || len > end - 4 - p) {
                break;
            }
            if ((tag == Sections.VCPU_CONTEXT || tag == Sections.HYPERVISOR_CONTEXT) && len >= 24) {
                m.putInt(p + len - 4, crc(b, p, len - 4));
            }
            p += len;
        }
        m.putInt(end - 4, crc(b, at, length - 4));
    }

    private static ByteBuffer header(Path snapshot) throws IOException {
        byte[] h = new byte[HEADER];
        try (RandomAccessFile f = new RandomAccessFile(snapshot.toFile(), "r")) {
            f.readFully(h);
        }
        return ByteBuffer.wrap(h).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static int crc(byte[] b, int from, int length) {
        CRC32C c = new CRC32C();
        c.update(b, from, length);
        return (int) c.getValue();
    }

    private static final byte[] ZEROS = new byte[64 << 10];

    private static int zeroCrc(long length) {
        CRC32C c = new CRC32C();
        for (long done = 0; done < length; done += ZEROS.length) {
            c.update(ZEROS, 0, (int) Math.min(ZEROS.length, length - done));
        }
        return (int) c.getValue();
    }

    private static Kvm kvm() {
        if (kvm == null) {
            kvm = Kvm.open();
        }
        return kvm;
    }

    private static Path dir() throws IOException {
        if (dir == null) {
            dir = Files.createTempDirectory("kvmctl-snapshot-fuzz");
        }
        return dir;
    }

    private static Path file() throws IOException {
        if (file == null) {
            file = dir().resolve("input.snap");
        }
        return file;
    }

    private static void expect(boolean ok, String message) {
        if (!ok) {
            throw new AssertionError(message);
        }
    }
}
