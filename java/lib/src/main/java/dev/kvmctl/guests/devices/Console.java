package dev.kvmctl.guests.devices;

import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/**
 * Where a guest's console bytes go. What reaches {@code out} is safe for a terminal: control
 * characters other than newline and tab are shown as {@code \xNN} and malformed UTF-8 likewise
 * ({@code TerminalText}), and no line is longer than {@link #MAX_LINE} bytes (a longer one is
 * split), so a guest can neither drive the user's terminal nor make kvmctl buffer without bound.
 * Without a prefix, output is written and flushed as it comes, so a guest's output appears as it
 * is written. With a prefix (several VMs sharing one terminal) each line is written whole as
 * {@code [prefix] line}, so lines from different VMs never interleave mid-line. Also keeps the
 * last bytes the guest wrote, unfiltered, for tests and reports.
 *
 * <pre>{@code
 * Console console = new Console(System.out, "producer");
 * console.write('h'); console.write('i'); console.write('\n');   // "[producer] hi"
 * }</pre>
 */
public final class Console {
    /** The longest line written to {@code out}, in bytes (without prefix and newline); longer lines are split. */
    public static final int MAX_LINE = 4096;
    private static final int TAIL = 64 * 1024;
    private static final byte[] NEWLINE = {'\n'};

    private final OutputStream out;
    private final byte[] prefix;
    private final TerminalText text = new TerminalText(new TerminalText.Sink() {
        @Override
        public void unit(byte[] bytes, int offset, int length) {
            emit(bytes, offset, length);
        }

        @Override
        public void newline() {
            endOutputLine();
        }
    });
    /** With a prefix: the line being collected; without: unused. */
    private final byte[] line = new byte[MAX_LINE];
    /** Bytes in the current output line (collected, or already written without a prefix). */
    private int column;
    private final StringBuilder tail = new StringBuilder();
    private long bytes;
    private IOException failure;

    /**
     * A console writing to {@code out}.
     *
     * @param out where the filtered text goes; the console never closes it
     * @param prefix what each line starts with, in brackets ({@code [prefix] }); null for none.
     *     Control characters in it are escaped too
     */
    public Console(OutputStream out, String prefix) {
        this.out = out;
        this.prefix = prefix == null ? null : ("[" + TerminalText.escape(prefix) + "] ").getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Writes one byte from the guest. Without a prefix it reaches {@code out} at once (flushed);
     * with one, when its line ends.
     *
     * @param b the byte, in the low 8 bits
     * @throws UncheckedIOException if writing to {@code out} failed
     */
    public synchronized void write(int b) {
        bytes++;
        tail.append((char) (b & 0xff));
        if (tail.length() > TAIL) {
            tail.delete(0, tail.length() - TAIL);
        }
        text.accept(b);
        if (prefix == null) {
            flush();
        }
        rethrow();
    }

    /** Writes out what is held back: an unfinished line with a prefix gets its newline (at the end of a run). */
    public synchronized void finish() {
        text.flush();
        if (prefix != null && column > 0) {
            endOutputLine();
        }
        flush();
        rethrow();
    }

    /**
     * Ends the output line if the guest left it unfinished, so that what is printed next (a
     * report) starts on a line of its own; does nothing at the start of a line.
     */
    public synchronized void endLine() {
        text.flush();
        if (column > 0) {
            endOutputLine();
        }
        flush();
        rethrow();
    }

    private void emit(byte[] unit, int offset, int length) {
        if (column + length > MAX_LINE) {
            endOutputLine();
        }
        if (prefix != null) {
            System.arraycopy(unit, offset, line, column, length);
        } else {
            put(unit, offset, length);
        }
        column += length;
    }

    private void endOutputLine() {
        if (prefix == null) {
            put(NEWLINE, 0, 1);
        } else {
            synchronized (out) {
                put(prefix, 0, prefix.length);
                put(line, 0, column);
                put(NEWLINE, 0, 1);
                flush();
            }
        }
        column = 0;
    }

    private void put(byte[] b, int offset, int length) {
        try {
            out.write(b, offset, length);
        } catch (IOException e) {
            failure = e;
        }
    }

    private void flush() {
        try {
            out.flush();
        } catch (IOException e) {
            failure = e;
        }
    }

    private void rethrow() {
        if (failure != null) {
            IOException e = failure;
            failure = null;
            throw new UncheckedIOException(e);
        }
    }

    /** {@return the last (up to 64 KiB) characters the guest wrote, as written: one char per byte, unfiltered} */
    public synchronized String text() {
        return tail.toString();
    }

    /** {@return how many bytes the guest wrote in all, including those no longer in {@link #text()}} */
    public synchronized long bytes() {
        return bytes;
    }
}
