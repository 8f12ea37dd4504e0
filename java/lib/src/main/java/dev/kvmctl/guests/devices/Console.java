package dev.kvmctl.guests.devices;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Where a guest's console bytes go. Without a prefix, bytes pass straight through and are flushed
 * at once, so a guest's output appears as it is written. With a prefix (several VMs sharing one
 * terminal) each complete line is written as {@code [prefix] line}, so lines from different VMs
 * never interleave mid-line. Also keeps the last bytes written, for tests and reports.
 *
 * <pre>{@code
 * Console console = new Console(System.out, "producer");
 * console.write('h'); console.write('i'); console.write('\n');   // "[producer] hi"
 * }</pre>
 */
public final class Console {
    private static final int TAIL = 64 * 1024;

    private final OutputStream out;
    private final byte[] prefix;
    private final StringBuilder line = new StringBuilder();
    private final StringBuilder tail = new StringBuilder();
    private long bytes;

    /** A console writing to {@code out}; {@code prefix} may be null for none. */
    public Console(OutputStream out, String prefix) {
        this.out = out;
        this.prefix = prefix == null ? null : ("[" + prefix + "] ").getBytes(StandardCharsets.UTF_8);
    }

    /** Writes one byte from the guest. */
    public synchronized void write(int b) {
        bytes++;
        char c = (char) (b & 0xff);
        tail.append(c);
        if (tail.length() > TAIL) {
            tail.delete(0, tail.length() - TAIL);
        }
        try {
            if (prefix == null) {
                out.write(b);
                out.flush();
            } else {
                line.append(c);
                if (c == '\n') {
                    flushLine();
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Writes out an unfinished line, if any (at the end of a run). */
    public synchronized void finish() {
        try {
            if (prefix != null && line.length() > 0) {
                line.append('\n');
                flushLine();
            }
            out.flush();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void flushLine() throws IOException {
        synchronized (out) {
            out.write(prefix);
            out.write(line.toString().getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
        }
        line.setLength(0);
    }

    /** The last (up to 64 KiB) characters the guest wrote. */
    public synchronized String text() {
        return tail.toString();
    }

    /** Bytes written in all. */
    public synchronized long bytes() {
        return bytes;
    }
}
