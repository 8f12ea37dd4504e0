package dev.kvmctl.cli;

import dev.kvmctl.guests.Machine;
import java.time.Duration;

/** Stops a machine after a delay of wall time, from a daemon thread; cancellable. */
final class ScheduledStop {
    private final Thread thread;

    private ScheduledStop(Thread thread) {
        this.thread = thread;
    }

    static ScheduledStop after(Machine machine, Duration delay) {
        Thread t = new Thread(() -> {
            try {
                Thread.sleep(delay.toMillis(), (int) (delay.toNanos() % 1_000_000));
                machine.requestStop();
            } catch (InterruptedException e) {
                // cancelled
            }
        }, "kvmctl-snapshot-timer");
        t.setDaemon(true);
        t.start();
        return new ScheduledStop(t);
    }

    void cancel() {
        thread.interrupt();
    }
}
