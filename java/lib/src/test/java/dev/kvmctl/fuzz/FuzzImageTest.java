package dev.kvmctl.fuzz;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.GuestImageException;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.soak.ProcessResources;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Corrupted guest images through {@link GuestImage#parse} and {@link Machine#boot}: every
 * truncation of the built-in ELF images, header fields pointing outside the file, segments
 * outside memory or overlapping the boot area, huge {@code p_memsz}, random byte flips of the
 * real images, and random bytes. Each must be refused with {@link GuestImageException} (or another
 * {@link IllegalArgumentException}) or boot and end with a {@link RunResult} — never another
 * exception, never a crash or a hang. Images that parse are booted (long mode ring 3 or 0, or real
 * mode for flat images) with an 8 MiB guest and a short timeout.
 *
 * <p>{@code -Dkvmctl.fuzz.seed=N} repeats a run; {@code -Dkvmctl.fuzz.scale=K} multiplies the tries.
 */
class FuzzImageTest {
    static final long SEED = Long.getLong("kvmctl.fuzz.seed", System.nanoTime());
    static final int SCALE = Integer.getInteger("kvmctl.fuzz.scale", 1);
    private static final long RAM = 8L << 20;
    private static final Duration RUN_LIMIT = Duration.ofMillis(150);

    private static final Tally PARSE = new Tally("GuestImage.parse");
    private static final Tally BOOT = new Tally("Machine.boot + run");
    private static Kvm kvm;
    private static ProcessResources before;

    /** The built-in ELF images (hello-long, fault, spin, sse-compute, producer, ...). */
    static final List<String> ELVES = new ArrayList<>();
    /** The flat (real-mode) built-in images. */
    static final List<String> FLATS = new ArrayList<>();

    @BeforeAll
    static void open() {
        KvmAvailable.assumeKvm();
        for (BuiltinImages.Image i : BuiltinImages.list()) {
            (i.file().endsWith(".elf") ? ELVES : FLATS).add(i.file());
        }
        assertTrue(ELVES.contains("hello-long.elf") && FLATS.contains("hello-real.bin"), "built-in images " + ELVES + FLATS);
        kvm = Kvm.open();
        before = ProcessResources.take(false);
        System.out.println("fuzz: FuzzImageTest seed " + SEED + " (-Dkvmctl.fuzz.seed to repeat)");
    }

    @AfterAll
    static void close() {
        if (kvm == null) {
            return;
        }
        PARSE.print();
        BOOT.print();
        List<String> leaks = ProcessResources.take(false).leaksSince(before, 2, 100, Long.MAX_VALUE);
        kvm.close();
        assertTrue(leaks.isEmpty(), "booting corrupted images left " + leaks);
    }

    static byte[] bytes(String name) {
        return BuiltinImages.bytes(BuiltinImages.find(name).orElseThrow());
    }

    /**
     * Parses {@code image} (flat ones at the real- or long-mode default address) and, if that works
     * and {@code boot} is set, boots and runs it. Returns how it ended; fails on anything else.
     */
    static String attempt(String what, byte[] image, boolean boot, SplittableRandom rnd) {
        CpuMode mode = rnd.nextInt(3) == 0 ? CpuMode.REAL : CpuMode.LONG;
        long load = mode.defaultLoadAddress();
        GuestImage parsed;
        try {
            parsed = GuestImage.parse(what, image, load, load);
            PARSE.add("parsed " + parsed.format());
        } catch (IllegalArgumentException e) {
            PARSE.add(e instanceof GuestImageException ? "GuestImageException" : "IllegalArgumentException");
            return "refused";
        } catch (Throwable t) {
            throw new AssertionError(what + ": parse threw " + t, t);
        }
        if (!boot) {
            return "parsed";
        }
        if (parsed.format() == GuestImage.Format.ELF) {
            mode = CpuMode.LONG; // ELF images are long-mode images
        }
        int ring = mode == CpuMode.LONG && rnd.nextInt(4) != 0 ? 3 : 0;
        GuestConfig config = GuestConfig.builder(parsed).mode(mode).ring(ring).memorySize(RAM)
                .console(new Console(OutputStream.nullOutputStream(), null)).build();
        try (Machine m = Machine.boot(kvm, config)) {
            RunResult r = m.run(RUN_LIMIT);
            BOOT.add("ran: " + r.outcome());
            return r.outcome().name();
        } catch (IllegalArgumentException e) {
            BOOT.add("boot refused: " + e.getClass().getSimpleName());
            return "refused";
        } catch (Throwable t) {
            throw new AssertionError(what + " (" + mode + ", ring " + ring + "): boot or run threw " + t, t);
        }
    }

    @Test
    void everyTruncationOfEveryBuiltinElf() {
        SplittableRandom rnd = new SplittableRandom(SEED);
        // Booted when they parse: the guests that end on their own (or spin) without a peer VM.
        List<String> bootable = List.of("hello-long.elf", "fault.elf", "spin.elf");
        long tried = 0;
        for (String name : ELVES) {
            byte[] full = bytes(name);
            for (int len = 0; len <= full.length; len++, tried++) {
                boolean boot = bootable.contains(name) && (len % 331 == 0 || full.length - len < 4);
                attempt(name + "[0," + len + ")", Arrays.copyOf(full, len), boot, rnd);
            }
        }
        System.out.println("fuzz: truncations " + tried + " of " + ELVES);
    }

    /** ELF64 header and program-header fields, each set to values that break naive checks. */
    @Test
    void headerFieldsPointingAnywhere() {
        SplittableRandom rnd = new SplittableRandom(SEED + 1);
        byte[] good = bytes("hello-long.elf");
        int length = good.length;
        long[] anywhere = {0, 1, 7, 63, 64, 120, length - 1, length, length + 1, 0x1000, 0x9f000, 0xa0000, 0xfffff,
            0x100000, RAM - 0x10, RAM, RAM + 0x1000, 1L << 31, 1L << 32, 1L << 40, 1L << 52, 1L << 62,
            Long.MAX_VALUE, Long.MAX_VALUE - 0x1000, Long.MIN_VALUE, -1, -0x1000, 0xffffffffL};
        // offset, width
        int[][] fields = {
            {4, 1}, {5, 1}, {16, 2}, {18, 2}, {24, 8}, {32, 8}, {54, 2}, {56, 2},           // class, data, type, machine, entry, phoff, phentsize, phnum
            {64, 4}, {64 + 8, 8}, {64 + 24, 8}, {64 + 32, 8}, {64 + 40, 8},                 // phdr 0: type, offset, paddr, filesz, memsz
            {120, 4}, {120 + 8, 8}, {120 + 24, 8}, {120 + 32, 8}, {120 + 40, 8},            // phdr 1
        };
        int tried = 0;
        for (int[] f : fields) {
            for (long v : anywhere) {
                attempt("field@" + f[0] + "=" + v, with(good, f[0], f[1], v), true, rnd);
                tried++;
            }
        }
        // Then random pairs and triples of those mutations together.
        for (int i = 0; i < 400 * SCALE; i++) {
            byte[] b = good.clone();
            StringBuilder what = new StringBuilder("fields");
            for (int k = 0; k < 2 + rnd.nextInt(2); k++) {
                int[] f = fields[rnd.nextInt(fields.length)];
                long v = anywhere[rnd.nextInt(anywhere.length)] + (rnd.nextInt(4) == 0 ? rnd.nextInt(0x2000) : 0);
                b = with(b, f[0], f[1], v);
                what.append(" @").append(f[0]).append('=').append(v);
            }
            attempt(what.toString(), b, true, rnd);
            tried++;
        }
        System.out.println("fuzz: header-field mutations " + tried);
    }

    /** Segments outside memory, in the boot area, overlapping each other, with huge p_memsz. */
    @Test
    void segmentsOutsideMemoryAndHugeSizes() {
        SplittableRandom rnd = new SplittableRandom(SEED + 2);
        byte[] code = {(byte) 0xb0, 0x2a, (byte) 0xe6, (byte) 0xf4, (byte) 0xeb, (byte) 0xfe}; // mov al,42; out 0xf4,al; jmp $
        long[] addresses = {0, 0x1000, 0x7c00, 0x9f000, 0xa0000, 0x100000, RAM - 6, RAM - 0x1000, RAM, 1L << 32, -6};
        long[] memsizes = {0, 6, 0x1000, RAM, RAM + 1, 1L << 30, 1L << 40, 1L << 62, Long.MAX_VALUE, -1};
        int tried = 0;
        for (long paddr : addresses) {
            for (long memsz : memsizes) {
                for (long entry : new long[] {paddr, paddr + 5, 0x100000}) {
                    attempt(String.format("segment at 0x%x memsz 0x%x entry 0x%x", paddr, memsz, entry),
                            elf(paddr, entry, code, memsz, rnd.nextInt(3) == 0), true, rnd);
                    tried++;
                }
            }
        }
        System.out.println("fuzz: segment placements " + tried);
    }

    /** Random byte flips of the real built-in images (ELF and flat). */
    @Test
    void randomByteFlipsOfTheBuiltinImages() {
        SplittableRandom rnd = new SplittableRandom(SEED + 3);
        List<String> all = new ArrayList<>(List.of("hello-long.elf", "fault.elf", "spin.elf", "hello-real.bin", "io-exits.bin"));
        for (int i = 0; i < 3000 * SCALE; i++) {
            String name = all.get(rnd.nextInt(all.size()));
            byte[] b = bytes(name);
            int flips = 1 + rnd.nextInt(rnd.nextBoolean() ? 4 : 32);
            for (int k = 0; k < flips; k++) {
                // Half the flips land in the ELF headers, where they matter most for parsing.
                int at = name.endsWith(".elf") && rnd.nextBoolean() ? rnd.nextInt(Math.min(b.length, 64 + 56 * 4)) : rnd.nextInt(b.length);
                b[at] ^= (byte) (rnd.nextBoolean() ? 1 << rnd.nextInt(8) : rnd.nextInt(256));
            }
            // Parsing is cheap; booting one in ten keeps the test short.
            attempt(name + " with " + flips + " flips", b, i % 10 == 0, rnd);
        }
    }

    /** Random bytes: some behind a valid ELF identification and header, some not. */
    @Test
    void randomBytes() {
        SplittableRandom rnd = new SplittableRandom(SEED + 4);
        for (int i = 0; i < 3000 * SCALE; i++) {
            byte[] b = new byte[rnd.nextInt(rnd.nextBoolean() ? 64 : 4096)];
            rnd.nextBytes(b);
            if (b.length >= 20 && rnd.nextBoolean()) {
                System.arraycopy(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}, 0, b, 0, 8);
                b[16] = 2;
                b[17] = 0;
                b[18] = 62;
                b[19] = 0;
            }
            attempt("random " + b.length + " bytes", b, i % 20 == 0, rnd);
        }
    }

    static byte[] with(byte[] image, int offset, int width, long value) {
        byte[] b = image.clone();
        ByteBuffer buf = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        switch (width) {
            case 1 -> buf.put(offset, (byte) value);
            case 2 -> buf.putShort(offset, (short) value);
            case 4 -> buf.putInt(offset, (int) value);
            default -> buf.putLong(offset, value);
        }
        return b;
    }

    /** A minimal ELF64 executable: one PT_LOAD of {@code code} at {@code paddr} (optionally a second, overlapping one). */
    static byte[] elf(long paddr, long entry, byte[] code, long memsz, boolean overlapping) {
        int phnum = overlapping ? 2 : 1;
        int codeAt = 64 + 56 * phnum;
        ByteBuffer b = ByteBuffer.allocate(codeAt + code.length).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1, 0}).put(new byte[8]);
        b.putShort((short) 2).putShort((short) 62).putInt(1).putLong(entry).putLong(64).putLong(0)
                .putInt(0).putShort((short) 64).putShort((short) 56).putShort((short) phnum)
                .putShort((short) 64).putShort((short) 0).putShort((short) 0);
        for (int i = 0; i < phnum; i++) {
            b.putInt(1).putInt(5).putLong(codeAt).putLong(paddr + i * 2L).putLong(paddr + i * 2L)
                    .putLong(code.length).putLong(memsz).putLong(0x1000);
        }
        b.put(code);
        return b.array();
    }
}
