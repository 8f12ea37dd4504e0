package dev.kvmctl.guests.devices;

import java.nio.charset.StandardCharsets;

/**
 * Turns a guest's console bytes into text that is safe to put on a user's terminal: newline and
 * tab pass, CR LF becomes a newline, and every other control character (C0, DEL, and the C1
 * controls U+0080 to U+009F) is shown as {@code \xNN}, so a guest cannot move the cursor, clear
 * the screen, retitle the window or answer back through the terminal. Well-formed UTF-8 passes;
 * a byte that is not part of one (a stray continuation, an overlong or truncated sequence, a
 * surrogate) is shown as {@code \xNN} too. Output comes in units that must not be split: one
 * printable character (1 to 4 bytes) or one escape (4 bytes).
 *
 * <pre>{@code
 * StringBuilder shown = new StringBuilder();
 * TerminalText t = new TerminalText(new TerminalText.Sink() {
 *     public void unit(byte[] bytes, int offset, int length) {
 *         shown.append(new String(bytes, offset, length, StandardCharsets.UTF_8));
 *     }
 *     public void newline() { shown.append('\n'); }
 * });
 * for (byte b : "\u001b[2Jhi\n".getBytes(StandardCharsets.ISO_8859_1)) t.accept(b);  // shown: "\x1b[2Jhi", newline
 * }</pre>
 *
 * <p>Not API: its example is compiled inside this package.
 */
final class TerminalText {
    /** Where the filtered text goes. */
    interface Sink {
        /** {@code length} bytes of {@code bytes} from {@code offset}: one unit, to be kept on one line. */
        void unit(byte[] bytes, int offset, int length);

        /** The guest ended a line. */
        void newline();
    }

    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

    private final Sink sink;
    private final byte[] sequence = new byte[4];
    private final byte[] escape = {'\\', 'x', 0, 0};
    private int have;
    private int need;
    private boolean pendingCr;

    TerminalText(Sink sink) {
        this.sink = sink;
    }

    /** Takes one byte (the low 8 bits of {@code value}) from the guest. */
    void accept(int value) {
        int b = value & 0xff;
        if (pendingCr) {
            pendingCr = false;
            if (b == '\n') {
                sink.newline();
                return;
            }
            escape(0x0d);
        }
        if (need > 0) {
            if ((b & 0xc0) == 0x80) {
                sequence[have++] = (byte) b;
                if (have == need) {
                    completeSequence();
                }
                return;
            }
            abandonSequence(); // and take b on its own below
        }
        if (b < 0x80) {
            if (b == '\n') {
                sink.newline();
            } else if (b == '\r') {
                pendingCr = true; // CR LF is a newline; a lone CR could overwrite what was shown
            } else if (b == '\t' || (b >= 0x20 && b != 0x7f)) {
                sequence[0] = (byte) b;
                sink.unit(sequence, 0, 1);
            } else {
                escape(b);
            }
        } else if (b >= 0xc2 && b <= 0xf4) {
            sequence[0] = (byte) b;
            have = 1;
            need = b < 0xe0 ? 2 : b < 0xf0 ? 3 : 4;
        } else {
            escape(b); // 0x80-0xc1, 0xf5-0xff never start a well-formed sequence
        }
    }

    /** Shows what is still held back (a CR, the start of a sequence) when the guest's output ends. */
    void flush() {
        if (pendingCr) {
            pendingCr = false;
            escape(0x0d);
        }
        if (need > 0) {
            abandonSequence();
        }
    }

    private void completeSequence() {
        int cp = sequence[0] & (0x7f >> need);
        for (int i = 1; i < need; i++) {
            cp = (cp << 6) | (sequence[i] & 0x3f);
        }
        int min = need == 2 ? 0x80 : need == 3 ? 0x800 : 0x10000;
        boolean wellFormed = cp >= min && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
        boolean c1Control = cp >= 0x80 && cp <= 0x9f;
        int n = need;
        have = 0;
        need = 0;
        if (wellFormed && !c1Control) {
            sink.unit(sequence, 0, n);
        } else {
            escapeAll(n);
        }
    }

    private void abandonSequence() {
        int n = have;
        have = 0;
        need = 0;
        escapeAll(n);
    }

    private void escapeAll(int n) {
        for (int i = 0; i < n; i++) {
            escape(sequence[i] & 0xff);
        }
    }

    private void escape(int b) {
        escape[2] = HEX[b >> 4];
        escape[3] = HEX[b & 0xf];
        sink.unit(escape, 0, 4);
    }

    /** {@code text} with every control character shown as {@code \xNN} (for names a user gave). */
    static String escape(String text) {
        StringBuilder sb = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) {
                sb.append(String.format("\\x%02x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
