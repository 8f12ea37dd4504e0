package dev.kvmctl.bench;

import dev.kvmctl.Kvm;
import dev.kvmctl.contexts.Snapshot;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Snapshot write and restore times for guests of {@code ramMiB} MiB whose memory is a quarter
 * random data, a quarter a repeated pattern and half zero pages (written as holes).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
public class SnapshotBench {
    private static final byte[] LOOP = {0x66, (byte) 0xba, 0x00, 0x05, (byte) 0xee, (byte) 0xeb, (byte) 0xfd};

    @Param({"64", "1024"})
    public int ramMiB;

    private Kvm kvm;
    private Machine machine;
    private Path file;

    @Setup(Level.Trial)
    public void setUp() throws IOException {
        kvm = Kvm.open();
        machine = bootFilled(kvm, ramMiB);
        file = Files.createTempFile(Path.of(System.getProperty("kvmctl.bench.dir", "target")), "bench", ".snap");
        Snapshot.write(machine, file, done -> {});
    }

    /**
     * A running guest of {@code ramMiB} MiB whose RAM past its first 2 MiB is, MiB by MiB, a
     * quarter random bytes, a quarter a repeated pattern and half zero pages. Also used by
     * {@link SnapshotFacts}, so both report on the same guest.
     */
    static Machine bootFilled(Kvm kvm, int ramMiB) {
        GuestImage image = GuestImage.parse("snap", LOOP, 0x100000, 0x100000);
        Machine machine = Machine.boot(kvm, GuestConfig.builder(image).mode(CpuMode.LONG).ring(3).memorySize((long) ramMiB << 20)
                .console(new Console(OutputStream.nullOutputStream(), null)).build());
        long size = machine.ram().size();
        byte[] chunk = new byte[1 << 20];
        new Random(1).nextBytes(chunk);
        byte[] pattern = new byte[1 << 20];
        java.util.Arrays.fill(pattern, (byte) 0x5a);
        for (long at = 2 << 20; at + chunk.length <= size; at += chunk.length) {
            long quarter = (at / chunk.length) % 4;
            if (quarter == 0) {
                machine.ram().write(at, chunk);
            } else if (quarter == 1) {
                machine.ram().write(at, pattern);
            }
        }
        machine.vcpu().run();
        return machine;
    }

    @TearDown(Level.Trial)
    public void tearDown() throws IOException {
        machine.close();
        kvm.close();
        Files.deleteIfExists(file);
    }

    @Benchmark
    public long write() {
        return Snapshot.write(machine, file, done -> {});
    }

    /** Reads the file once, checking it while copying the RAM image into new guest memory; builds the VM, restores the contexts. */
    @Benchmark
    public long restore() {
        try (Machine m = Snapshot.restore(kvm, file, OutputStream.nullOutputStream())) {
            return m.ram().size();
        }
    }
}
