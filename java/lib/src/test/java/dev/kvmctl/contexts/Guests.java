package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

/**
 * Test helper: machines booted from the built-in images, with their console kept in memory.
 *
 * <p>Tests that need a guest to be preempted, switched or stopped some number of times run
 * {@code sse-compute.elf} and {@code state-keeper.elf} "until stopped": the guest computes until
 * the host writes its stop word ({@link #STOP_WORD}), then prints the iterations (rounds) it ran
 * and its result, which a plain run of that many iterations must reproduce. So the guest never
 * ends before the test has done what it needs, on a CPU of any speed.
 */
final class Guests {
    /** Guest-physical address of the stop word: below the image, in memory kvmctl leaves alone in long mode. */
    static final long STOP_WORD = 0xff000;
    /** What sse-compute prints once its data is ready and its compute loop starts. */
    static final String SSE_COMPUTING = "sse-compute: computing until stopped, simd=";
    /** What state-keeper prints right before its loop starts. */
    static final String KEEPER_COMPUTING = "state-keeper: rounds=until stopped";

    private static final Map<String, String> REFERENCE = new HashMap<>();

    private Guests() {}

    /** A ring-3 long-mode machine running built-in {@code image} with {@code args}. */
    static Machine boot(Kvm kvm, String image, ByteArrayOutputStream console, boolean irqchip, long... args) {
        GuestConfig config = GuestConfig.builder(BuiltinImages.load(image)).name(image).mode(CpuMode.LONG).ring(3)
                .args(args).irqchip(irqchip).console(new Console(console, null)).build();
        return Machine.boot(kvm, config);
    }

    /** sse-compute.elf computing until its stop word is set (see {@link #stop}). */
    static Machine sseUntilStopped(Kvm kvm, ByteArrayOutputStream console, boolean irqchip) {
        return boot(kvm, "sse-compute.elf", console, irqchip, 0, 0, STOP_WORD);
    }

    /** state-keeper.elf keeping its state until its stop word is set (see {@link #stop}). */
    static Machine keeperUntilStopped(Kvm kvm, ByteArrayOutputStream console, boolean irqchip) {
        return boot(kvm, "state-keeper.elf", console, irqchip, 0, STOP_WORD);
    }

    /** Tells a guest started "until stopped" to finish: it ends its loop at its next read of the word. */
    static void stop(Machine m) {
        m.ram().putLong(STOP_WORD, 1);
    }

    /**
     * Runs a guest started "until stopped" until it has printed {@code marker} (it is in its loop),
     * then kicks it: since it never ends by itself, the slice always ends preempted, whatever the
     * CPU's speed. Where in the loop the kick lands is left to chance; no verdict depends on it.
     */
    static void runIntoLoop(Machine m, ByteArrayOutputStream console, String marker) {
        Thread kicker = new Thread(() -> {
            long giveUp = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            try {
                // A guest that never gets there is kicked anyway (a safety net), and fails below.
                while (!inLoop(console, marker) && System.nanoTime() - giveUp < 0) {
                    Thread.sleep(1);
                }
            } catch (InterruptedException e) {
                return;
            }
            m.vcpu().kick();
        }, "kick-in-loop");
        kicker.start();
        try {
            assertInstanceOf(Machine.Preempted.class, m.runSlice(), () -> "still computing when stopped: " + console);
            assertTrue(inLoop(console, marker), () -> "stopped inside the loop: " + console);
        } finally {
            kicker.interrupt();
            try {
                kicker.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Whether the guest has printed its whole {@code marker} line, so it is inside its loop. */
    static boolean inLoop(ByteArrayOutputStream console, String marker) {
        String text = console.toString();
        return text.contains(marker) && text.endsWith("\n");
    }

    /**
     * The console of an uninterrupted, unswitched run of {@code image} with {@code args} (a
     * fixed amount of work), cached: the reference a stopped run's result is checked against.
     */
    static synchronized String reference(String image, long... args) {
        String key = image + java.util.Arrays.toString(args);
        String cached = REFERENCE.get(key);
        if (cached != null) {
            return cached;
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Kvm kvm = Kvm.open(); Machine m = boot(kvm, image, out, false, args)) {
            if (!m.run(Duration.ofSeconds(120)).succeeded()) {
                throw new AssertionError("the reference run of " + key + " failed: " + m.result() + "\n" + out);
            }
        }
        REFERENCE.put(key, out.toString());
        return out.toString();
    }

    /**
     * The guest-physical address of {@code smp-counter.elf}'s shared state, from its first line
     * once that line is complete, or -1 before.
     */
    static long smpState(String console) {
        String line = line(console, "running state=");
        return line.isEmpty() || !console.contains(line + "\n") ? -1 : Long.decode(line.replaceAll(".*state=", ""));
    }

    /** The line of {@code text} that starts with {@code prefix}, or "" if none. */
    static String line(String text, String prefix) {
        for (String l : text.split("\n")) {
            if (l.contains(prefix)) {
                return l.trim();
            }
        }
        return "";
    }

    /** The decimal number after {@code key} (e.g. "ran=") in {@code text}, or -1. */
    static long number(String text, String key) {
        int at = text.indexOf(key);
        if (at < 0) {
            return -1;
        }
        int end = at + key.length();
        while (end < text.length() && Character.isDigit(text.charAt(end))) {
            end++;
        }
        return end == at + key.length() ? -1 : Long.parseLong(text.substring(at + key.length(), end));
    }
}
