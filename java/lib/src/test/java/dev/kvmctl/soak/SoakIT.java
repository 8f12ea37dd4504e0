package dev.kvmctl.soak;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.MemorySlot;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.GuestImage;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.Outcome;
import dev.kvmctl.guests.RunResult;
import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.state.Segment;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Soak: several threads create and destroy VMs concurrently for a bounded time, each VM running a
 * guest whose end is known in advance — a clean exit, a triple fault, an endless loop stopped by a
 * timeout or by another thread, or raw {@link Vm}/{@link Vcpu} code that adds, moves and removes
 * memory slots between runs. Every result is checked against what that guest must give; at the
 * end no descriptor, mapping, thread or heap may have leaked.
 *
 * <p>Bounded by default to {@value #DEFAULT_SECONDS} s of load (about 2 minutes in all). Longer:
 * {@code mvn verify -Dit.test=SoakIT -Dkvmctl.soak.seconds=600 [-Dkvmctl.soak.threads=8]
 * [-Dkvmctl.soak.seed=N]} (failsafe passes {@code -D} user properties on to the test JVM).
 */
class SoakIT {
    static final int DEFAULT_SECONDS = 90;

    /** What a VM in the soak runs, with a weight (how often it is picked). */
    enum Scenario {
        /** hello-long.elf at ring 3 (sometimes ring 0): EXITED 0, prints its ring and RAM size. */
        HELLO_LONG(4),
        /** hello-real.bin in (emulated) real mode: HALTED 0. */
        HELLO_REAL(1),
        /** fault.elf: a page fault with no IDT, a triple fault: FAULTED 125 with a register dump. */
        FAULT(2),
        /** spin.elf with a short run timeout: TIMED_OUT 124. */
        SPIN_TIMEOUT(2),
        /** spin.elf stopped from another thread with {@link Machine#requestStop()}: STOPPED. */
        SPIN_STOP(1),
        /** Raw API: slots added, moved and removed between runs of real-mode code that reads and writes one. */
        RAW_SLOTS(3),
        /** Raw API: an endless real-mode loop ended by {@link Vcpu#kick()} from another thread, then run on. */
        RAW_KICK(1);

        final int weight;

        Scenario(int weight) {
            this.weight = weight;
        }
    }

    private static final String HELLO_REAL_TEXT = "Hello from real mode\n";

    private static GuestImage helloLong, helloReal, fault, spin;

    private final Map<Scenario, AtomicLong> runs = new EnumMap<>(Scenario.class);
    private final Map<String, AtomicLong> outcomes = new java.util.TreeMap<>();
    private final AtomicLong mismatches = new AtomicLong();
    private final AtomicLong slotOps = new AtomicLong();
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());

    @BeforeAll
    static void images() {
        KvmAvailable.assumeKvm();
        helloLong = BuiltinImages.load("hello-long.elf");
        helloReal = BuiltinImages.load("hello-real.bin");
        fault = BuiltinImages.load("fault.elf");
        spin = BuiltinImages.load("spin.elf");
    }

    @Test
    void vmsComeAndGoWithTheRightResultsAndNothingLeaks() throws Exception {
        long seconds = Long.getLong("kvmctl.soak.seconds", DEFAULT_SECONDS);
        int threads = Integer.getInteger("kvmctl.soak.threads", 4);
        long seed = Long.getLong("kvmctl.soak.seed", System.nanoTime());
        for (Scenario s : Scenario.values()) {
            runs.put(s, new AtomicLong());
        }
        System.out.printf("soak: %d threads for %d s, seed %d (-Dkvmctl.soak.seed=%d repeats the choices)%n",
                threads, seconds, seed, seed);

        ExecutorService workers = Executors.newFixedThreadPool(threads, r -> new Thread(r, "soak-worker"));
        ScheduledExecutorService stopper = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "soak-stopper");
            t.setDaemon(true);
            return t;
        });
        try (Kvm kvm = Kvm.open()) {
            // Warm up every path once (class loading, the native library, Machine's watchdog
            // thread, the pools' threads), so the baseline already holds what stays for good.
            SplittableRandom warm = new SplittableRandom(~seed);
            List<Future<?>> warmups = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                SplittableRandom rnd = warm.split();
                warmups.add(workers.submit(() -> {
                    for (Scenario s : Scenario.values()) {
                        runOne(kvm, s, rnd, stopper);
                    }
                    return null;
                }));
            }
            for (Future<?> f : warmups) {
                f.get();
            }
            resetCounts();
            ProcessResources before = ProcessResources.take(true);

            long start = System.nanoTime();
            long deadline = start + TimeUnit.SECONDS.toNanos(seconds);
            SplittableRandom root = new SplittableRandom(seed);
            List<Future<?>> done = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                SplittableRandom rnd = root.split();
                done.add(workers.submit(() -> {
                    while (System.nanoTime() - deadline < 0 && problems.size() < 50) {
                        runOne(kvm, pick(rnd), rnd, stopper);
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(seconds + 300, TimeUnit.SECONDS);
            }
            double elapsed = (System.nanoTime() - start) / 1e9;

            ProcessResources.sleep(500); // let the watchdog's cancelled tasks and the stopper go quiet
            ProcessResources after = ProcessResources.take(true);
            long total = runs.values().stream().mapToLong(AtomicLong::get).sum();
            System.out.printf("soak: %d VMs in %.1f s (%.1f VMs/s), %d slot operations, %d mismatches%n",
                    total, elapsed, total / elapsed, slotOps.get(), mismatches.get());
            System.out.println("soak: by scenario " + runs);
            System.out.println("soak: by outcome  " + outcomes);
            System.out.println("soak: before " + before);
            System.out.println("soak: after  " + after);
            problems.stream().limit(20).forEach(p -> System.out.println("soak: PROBLEM " + p));

            assertTrue(problems.isEmpty(), problems.size() + " problems, first: " + (problems.isEmpty() ? "" : problems.get(0)));
            assertEquals(0, mismatches.get(), "results that differ from what the guest must give");
            for (Scenario s : Scenario.values()) {
                assertTrue(runs.get(s).get() > 0, "scenario " + s + " never ran");
            }
            List<String> leaks = after.leaksSince(before, 4, 2, 64L << 20);
            assertTrue(leaks.isEmpty(), "leaks after " + total + " VMs: " + leaks);
        } finally {
            workers.shutdownNow();
            stopper.shutdownNow();
            workers.awaitTermination(30, TimeUnit.SECONDS);
        }
    }

    private void resetCounts() {
        runs.values().forEach(c -> c.set(0));
        synchronized (outcomes) {
            outcomes.clear();
        }
        slotOps.set(0);
    }

    private static Scenario pick(SplittableRandom rnd) {
        int total = 0;
        for (Scenario s : Scenario.values()) {
            total += s.weight;
        }
        int x = rnd.nextInt(total);
        for (Scenario s : Scenario.values()) {
            x -= s.weight;
            if (x < 0) {
                return s;
            }
        }
        throw new AssertionError();
    }

    /** Runs one VM of the scenario and checks its result; any difference or exception is a problem. */
    private void runOne(Kvm sharedKvm, Scenario s, SplittableRandom rnd, ScheduledExecutorService stopper) {
        // Now and then a VM gets its own /dev/kvm handle, so Kvm objects come and go too.
        boolean ownKvm = rnd.nextInt(8) == 0;
        try (Kvm own = ownKvm ? Kvm.open() : null) {
            Kvm kvm = ownKvm ? own : sharedKvm;
            String mismatch = switch (s) {
                case HELLO_LONG -> helloLong(kvm, rnd);
                case HELLO_REAL -> expect(boot(kvm, helloReal, CpuMode.REAL, 0, 2 << 20, Duration.ofSeconds(30), null),
                        Outcome.HALTED, 0, HELLO_REAL_TEXT);
                case FAULT -> faulted(kvm);
                case SPIN_TIMEOUT -> spinTimeout(kvm, rnd);
                case SPIN_STOP -> spinStop(kvm, rnd, stopper);
                case RAW_SLOTS -> rawSlots(kvm, rnd);
                case RAW_KICK -> rawKick(kvm, rnd, stopper);
            };
            runs.get(s).incrementAndGet();
            if (mismatch != null) {
                mismatches.incrementAndGet();
                problems.add(s + ": " + mismatch);
            }
        } catch (Throwable t) {
            StringWriter w = new StringWriter();
            t.printStackTrace(new PrintWriter(w));
            problems.add(s + " threw " + w);
        }
    }

    /** A guest run through {@link Machine}, with its console kept for checking. */
    private record Booted(RunResult result, String console, long millis) {}

    private Booted boot(Kvm kvm, GuestImage image, CpuMode mode, int ring, long ram, Duration timeout,
                        java.util.function.Consumer<Machine> beforeRun) {
        Console console = new Console(OutputStream.nullOutputStream(), null);
        GuestConfig config = GuestConfig.builder(image).mode(mode).ring(ring).memorySize(ram).console(console).build();
        long t0 = System.nanoTime();
        try (Machine m = Machine.boot(kvm, config)) {
            if (beforeRun != null) {
                beforeRun.accept(m);
            }
            RunResult r = m.run(timeout);
            count(r.outcome().name());
            return new Booted(r, console.text(), (System.nanoTime() - t0) / 1_000_000);
        }
    }

    private void count(String outcome) {
        synchronized (outcomes) {
            outcomes.computeIfAbsent(outcome, k -> new AtomicLong()).incrementAndGet();
        }
    }

    private static String expect(Booted b, Outcome outcome, int status, String console) {
        RunResult r = b.result();
        if (r.outcome() != outcome || r.status() != status || !b.console().equals(console)) {
            return String.format("expected %s/%d with console %s, got %s/%d (%s) with console %s",
                    outcome, status, quote(console), r.outcome(), r.status(), r.detail(), quote(b.console()));
        }
        return null;
    }

    private String helloLong(Kvm kvm, SplittableRandom rnd) {
        int ring = rnd.nextInt(4) == 0 ? 0 : 3;
        long ram = (2L << rnd.nextInt(4)) << 20; // 2, 4, 8 or 16 MiB: the guest prints it back
        Booted b = boot(kvm, helloLong, CpuMode.LONG, ring, ram, Duration.ofSeconds(30), null);
        return expect(b, Outcome.EXITED, 0, "Hello from long mode, ring " + ring + "\nRAM: " + ram + " bytes ("
                + (ram >> 20) + " MiB)\n");
    }

    private String faulted(Kvm kvm) {
        Booted b = boot(kvm, fault, CpuMode.LONG, 3, 2 << 20, Duration.ofSeconds(30), null);
        String m = expect(b, Outcome.FAULTED, Outcome.FAULT_STATUS, "about to fault\n");
        if (m == null && !(b.result().detail().contains("shutdown") && b.result().faultDump().contains("rip"))) {
            m = "a fault without a shutdown detail or register dump: " + b.result().detail();
        }
        return m;
    }

    private String spinTimeout(Kvm kvm, SplittableRandom rnd) {
        int millis = 10 + rnd.nextInt(90);
        Booted b = boot(kvm, spin, CpuMode.LONG, 3, 2 << 20, Duration.ofMillis(millis), null);
        // On a loaded host the timeout may come before the guest printed all of its line (or any).
        RunResult r = b.result();
        String m = r.outcome() == Outcome.TIMED_OUT && r.status() == Outcome.TIMEOUT_STATUS && "spinning\n".startsWith(b.console())
                ? null : String.format("expected TIMED_OUT/124 with console \"spinning\\n\" or a prefix of it, got %s/%d (%s) with console %s",
                        r.outcome(), r.status(), r.detail(), quote(b.console()));
        if (m == null && b.millis() > millis + 10_000) {
            m = "a " + millis + " ms timeout took " + b.millis() + " ms to stop the guest";
        }
        return m;
    }

    private String spinStop(Kvm kvm, SplittableRandom rnd, ScheduledExecutorService stopper) {
        int millis = 5 + rnd.nextInt(50);
        Booted b = boot(kvm, spin, CpuMode.LONG, 3, 2 << 20, Duration.ofSeconds(30),
                m -> stopper.schedule(m::requestStop, millis, TimeUnit.MILLISECONDS));
        // The stop may land before the guest printed all of its line (or any of it), or after.
        RunResult r = b.result();
        if (r.outcome() != Outcome.STOPPED || r.status() != 0 || !"spinning\n".startsWith(b.console())) {
            return String.format("expected STOPPED/0, got %s/%d (%s) with console %s",
                    r.outcome(), r.status(), r.detail(), quote(b.console()));
        }
        return null;
    }

    // ---- raw API ----

    private static final long CODE = 0x1000;
    private static final int MARKER_AT = 0x10, WRITE_AT = 0x20;
    private static final int MMIO_ANSWER = 0x5a, WRITTEN = 0x77;

    /**
     * Real-mode code that reads the byte at {@code target + 0x10}, writes it to port 0xe9, stores
     * 0x77 at {@code target + 0x20} and halts. {@code target} is a page below 1 MiB.
     */
    private static byte[] probe(long target) {
        int seg = (int) (target >> 4);
        return new byte[] {
            (byte) 0xb8, (byte) seg, (byte) (seg >> 8),            // mov ax, seg
            (byte) 0x8e, (byte) 0xd8,                              // mov ds, ax
            (byte) 0xa0, MARKER_AT, 0x00,                          // mov al, [0x10]
            (byte) 0xe6, (byte) 0xe9,                              // out 0xe9, al
            (byte) 0xc6, 0x06, WRITE_AT, 0x00, WRITTEN,            // mov byte [0x20], 0x77
            (byte) 0xf4,                                           // hlt
        };
    }

    /** Runs {@link #probe} against {@code target}; returns the exits as text, answering MMIO reads. */
    private static String runProbe(Vm vm, Vcpu vcpu, long target) {
        vm.write(CODE, probe(target));
        vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)).dataSegments(Segment.real(0, false)));
        vcpu.setRegs(vcpu.getRegs().rip(CODE).rflags(2).rsp(0x7000));
        StringBuilder trace = new StringBuilder();
        for (int i = 0; i < 10; i++) {
            VmExit exit = vcpu.run();
            if (exit instanceof VmExit.IoOut out) {
                trace.append(String.format("out %x=%x; ", out.port(), out.value()));
            } else if (exit instanceof VmExit.MmioRead r) {
                trace.append(String.format("mmio-read %x; ", r.address()));
                r.answer(MMIO_ANSWER);
            } else if (exit instanceof VmExit.MmioWrite w) {
                trace.append(String.format("mmio-write %x=%x; ", w.address(), w.value()));
            } else {
                trace.append(exit.kind().label());
                if (exit instanceof VmExit.Hlt) {
                    return trace.toString();
                }
                trace.append("; ");
            }
        }
        return trace + "... (no hlt)";
    }

    private static String mapped(int marker) {
        return String.format("out e9=%x; hlt", marker);
    }

    private static String unmapped(long target) {
        return String.format("mmio-read %x; out e9=%x; mmio-write %x=%x; hlt", target + MARKER_AT, MMIO_ANSWER,
                target + WRITE_AT, WRITTEN);
    }

    private String rawSlots(Kvm kvm, SplittableRandom rnd) {
        boolean shareable = rnd.nextBoolean();
        long slotSize = (1 + rnd.nextInt(4)) * GuestMemory.PAGE_SIZE;
        int marker = 1 + rnd.nextInt(250);
        try (GuestMemory ram = shareable ? GuestMemory.memfd("soak-ram", 64 << 10) : GuestMemory.anonymous(64 << 10);
             GuestMemory window = rnd.nextBoolean() ? GuestMemory.memfd("soak-window", slotSize) : GuestMemory.anonymous(slotSize);
             GuestMemory extra = GuestMemory.memfd("soak-extra", 16 * GuestMemory.PAGE_SIZE);
             Vm vm = kvm.createVm()) {
            count("RAW");
            vm.mapMemory(0, ram);
            window.putByte(MARKER_AT, (byte) marker);
            // Two pages of the window's range: 0x10000..0xf0000 (real mode reaches below 1 MiB).
            long x = 0x10000 + rnd.nextInt(0x70) * 0x1000L;
            long y = 0x90000 + rnd.nextInt(0x50) * 0x1000L;
            MemorySlot slot = vm.mapMemory(x, window);
            slotOps.incrementAndGet();

            // Churn: slices of one memfd mapped above 4 GiB (some dirty-logged), half removed again.
            List<MemorySlot> churn = new ArrayList<>();
            int n = rnd.nextInt(7);
            for (int i = 0; i < n; i++) {
                long gpa = (1L << 32) + i * 0x100000L + rnd.nextInt(16) * GuestMemory.PAGE_SIZE;
                int pages = 1 + rnd.nextInt(16 - i * 2 > 1 ? 16 - i * 2 : 1);
                long offset = rnd.nextInt(17 - pages) * GuestMemory.PAGE_SIZE;
                churn.add(vm.mapMemory(gpa, extra, offset, pages * GuestMemory.PAGE_SIZE,
                        rnd.nextBoolean() ? MemorySlot.LOG_DIRTY_PAGES : 0));
                slotOps.incrementAndGet();
            }
            Vcpu vcpu = vm.createVcpu(0);
            for (int i = churn.size() - 1; i >= 0; i -= 2) {
                vm.unmapMemory(churn.remove(i));
                slotOps.incrementAndGet();
            }
            if (vm.memorySlots().size() != 2 + churn.size()) {
                return "expected " + (2 + churn.size()) + " slots, the VM lists " + vm.memorySlots();
            }

            String got = runProbe(vm, vcpu, x);
            if (!got.equals(mapped(marker)) || window.getByte(WRITE_AT) != WRITTEN) {
                return "window at 0x" + Long.toHexString(x) + ": expected " + mapped(marker) + ", got " + got
                        + ", byte written " + window.getByte(WRITE_AT);
            }
            window.putByte(WRITE_AT, (byte) 0);
            MemorySlot moved = vm.moveMemory(slot, y);
            slotOps.incrementAndGet();
            got = runProbe(vm, vcpu, y);
            if (!got.equals(mapped(marker)) || window.getByte(WRITE_AT) != WRITTEN) {
                return "window moved to 0x" + Long.toHexString(y) + ": expected " + mapped(marker) + ", got " + got;
            }
            got = runProbe(vm, vcpu, x);
            if (!got.equals(unmapped(x))) {
                return "old window address 0x" + Long.toHexString(x) + " after the move: expected " + unmapped(x) + ", got " + got;
            }
            vm.unmapMemory(moved);
            slotOps.incrementAndGet();
            got = runProbe(vm, vcpu, y);
            if (!got.equals(unmapped(y))) {
                return "window removed from 0x" + Long.toHexString(y) + ": expected " + unmapped(y) + ", got " + got;
            }
            return null;
        }
    }

    private String rawKick(Kvm kvm, SplittableRandom rnd, ScheduledExecutorService stopper) throws Exception {
        try (GuestMemory ram = GuestMemory.anonymous(64 << 10); Vm vm = kvm.createVm()) {
            count("RAW");
            vm.mapMemory(0, ram);
            ram.write(CODE, new byte[] {(byte) 0xeb, (byte) 0xfe});   // jmp $  (forever)
            ram.write(CODE + 0x10, new byte[] {(byte) 0xf4});          // hlt
            Vcpu vcpu = vm.createVcpu(0);
            vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)));
            vcpu.setRegs(vcpu.getRegs().rip(CODE).rflags(2));
            var kick = stopper.scheduleAtFixedRate(vcpu::kick, 1 + rnd.nextInt(10), 20, TimeUnit.MILLISECONDS);
            VmExit first;
            try {
                first = vcpu.run();
            } finally {
                kick.cancel(false);
            }
            if (!(first instanceof VmExit.Interrupted)) {
                return "an endless loop ended with " + first + " instead of interrupted";
            }
            // A kick that raced with the end of the run may leave immediate_exit set: one more
            // interrupted exit at most, then the guest must run normally again.
            vcpu.setRegs(vcpu.getRegs().rip(CODE + 0x10));
            VmExit next = vcpu.run();
            if (next instanceof VmExit.Interrupted) {
                next = vcpu.run();
            }
            if (!(next instanceof VmExit.Hlt)) {
                return "after the kick, hlt gave " + next;
            }
            return null;
        }
    }

    private static String quote(String s) {
        return "\"" + s.replace("\n", "\\n") + "\"";
    }
}
