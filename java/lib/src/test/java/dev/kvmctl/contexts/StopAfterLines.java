package dev.kvmctl.contexts;

import dev.kvmctl.guests.Machine;
import java.io.ByteArrayOutputStream;

/**
 * Test helper: a console that acts once the guest has written a given number of lines: stops its
 * machine ({@code Machine.requestStop}, the run ends) or pauses it ({@code Machine.wake}, the
 * slice ends and the guest can go on). The point lands on the guest's own output, so it does not
 * depend on how fast this host runs the guest.
 */
final class StopAfterLines extends ByteArrayOutputStream {
    private final int lines;
    private int seen;
    private volatile Runnable action;

    StopAfterLines(int lines) {
        this.lines = lines;
    }

    /** Stops {@code m} at that line (its run ends as STOPPED); set before it runs. */
    StopAfterLines stopping(Machine m) {
        this.action = m::requestStop;
        return this;
    }

    /** Pauses {@code m} at that line: its {@code runSlice()} returns Preempted and it can go on. */
    StopAfterLines pausing(Machine m) {
        this.action = m::wake;
        return this;
    }

    @Override
    public synchronized void write(int b) {
        super.write(b);
        if (b == '\n' && ++seen == lines) {
            action.run();
        }
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        for (int i = 0; i < len; i++) {
            write(b[off + i]);
        }
    }
}
