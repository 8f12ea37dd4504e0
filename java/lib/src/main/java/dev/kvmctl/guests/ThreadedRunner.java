package dev.kvmctl.guests;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Runs several machines at once, each on its own host thread, until all have ended.
 *
 * <p>A machine whose thread dies of anything ({@link Throwable}: a {@code KvmException}, a device
 * that threw, an {@link Error}) ends as {@link Outcome#FAILED}; its call device releases what it
 * holds and wakes its peers, which run on to their own end. So the answer is always one result per
 * machine, never an exception.
 *
 * <pre>{@code
 * try (Machine a = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("hello-long")).ring(3).build());
 *      Machine b = Machine.boot(kvm, GuestConfig.builder(BuiltinImages.load("spin")).ring(3).build())) {
 *     List<RunResult> results = ThreadedRunner.runAll(List.of(a, b), Duration.ofSeconds(30));
 *     // results.get(0): EXITED, status 0; results.get(1): TIMED_OUT ("spin" never ends)
 * }
 * }</pre>
 */
public final class ThreadedRunner {
    private ThreadedRunner() {}

    /**
     * Runs every machine to its end on a thread of its own, and waits for all of them. If the
     * calling thread is interrupted, every machine is asked to stop and the interrupt is kept.
     *
     * @param machines the machines, not yet running elsewhere
     * @param timeout each machine's limit, as {@link Machine#run(Duration)} takes it (zero: none)
     * @return one result per machine, in the same order; never null, never an exception
     */
    public static List<RunResult> runAll(List<Machine> machines, Duration timeout) {
        List<Thread> threads = new ArrayList<>();
        RunResult[] results = new RunResult[machines.size()];
        for (int i = 0; i < machines.size(); i++) {
            int index = i;
            Machine m = machines.get(i);
            Thread t = new Thread(() -> {
                try {
                    results[index] = m.run(timeout);
                } catch (Throwable e) { // an Error too: peers must not wait on a VM whose thread died
                    results[index] = m.fail(e);
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
        for (int i = 0; i < results.length; i++) {
            if (results[i] == null) { // the thread died even before recording a failure (out of memory)
                results[i] = machines.get(i).fail(new IllegalStateException("its thread ended without a result"));
            }
        }
        return List.of(results);
    }
}
