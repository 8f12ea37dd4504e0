package dev.kvmctl.guests;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs several machines at once, each on its own host thread, until all have ended.
 *
 * <pre>{@code
 * List<RunResult> results = ThreadedRunner.runAll(List.of(a, b), Duration.ofSeconds(30));
 * }</pre>
 */
public final class ThreadedRunner {
    private ThreadedRunner() {}

    /** Runs every machine to its end (or {@code timeout}), returning the results in the same order. */
    public static List<RunResult> runAll(List<Machine> machines, Duration timeout) {
        List<Thread> threads = new ArrayList<>();
        RunResult[] results = new RunResult[machines.size()];
        RuntimeException[] failures = new RuntimeException[machines.size()];
        for (int i = 0; i < machines.size(); i++) {
            int index = i;
            Machine m = machines.get(i);
            Thread t = new Thread(() -> {
                try {
                    results[index] = m.run(timeout);
                } catch (RuntimeException e) {
                    failures[index] = e;
                    if (m.callDevice() != null) { // keep peers from waiting on a VM whose thread died
                        m.callDevice().ended(m);
                    }
                }
            }, "vcpu-" + m.name());
            threads.add(t);
            t.start();
        }
        boolean interrupted = false;
        for (Thread t : threads) {
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                    machines.forEach(Machine::requestStop);
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        for (RuntimeException failure : failures) {
            if (failure != null) {
                throw failure;
            }
        }
        return List.of(results);
    }
}
