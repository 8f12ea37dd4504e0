package dev.kvmctl.guests.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What a guest's console bytes become on the user's terminal: escaped, bounded, line-safe. No KVM. */
class ConsoleTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    private static void write(Console c, byte... bytes) {
        for (byte b : bytes) {
            c.write(b);
        }
    }

    private static void write(Console c, String latin1) {
        write(c, latin1.getBytes(StandardCharsets.ISO_8859_1));
    }

    private String shown() {
        return out.toString(StandardCharsets.UTF_8);
    }

    @Test
    void printableTextNewlinesAndTabsPassUnchanged() {
        Console c = new Console(out, null);
        write(c, "Hello, world\n\tindented ~!\n");
        c.finish();
        assertEquals("Hello, world\n\tindented ~!\n", shown());
    }

    @Test
    void controlCharactersAreShownEscaped() {
        Console c = new Console(out, null);
        write(c, "\u001b[2J\u001b]0;pwned\u0007a\u0000b\u007fc\bd\u0005\n");
        c.finish();
        assertEquals("\\x1b[2J\\x1b]0;pwned\\x07a\\x00b\\x7fc\\x08d\\x05\n", shown());
    }

    @Test
    void crLfIsANewlineAndALoneCrIsEscaped() {
        Console c = new Console(out, null);
        write(c, "one\r\ntwo\rthree\r");
        c.finish();
        assertEquals("one\ntwo\\x0dthree\\x0d", shown());
    }

    @Test
    void wellFormedUtf8PassesAndC1ControlsAndMalformedBytesAreEscaped() {
        Console c = new Console(out, null);
        write(c, "caf\u00e9 \u20ac \uD83D\uDE00\n".getBytes(StandardCharsets.UTF_8));
        write(c, (byte) 0x9b, (byte) '2', (byte) 'J', (byte) '\n');                  // raw C1 CSI
        write(c, (byte) 0xc2, (byte) 0x9b, (byte) '\n');                             // CSI as UTF-8 (U+009B)
        write(c, (byte) 0xc0, (byte) 0x80, (byte) '\n');                             // overlong NUL
        write(c, (byte) 0xed, (byte) 0xa0, (byte) 0x80, (byte) '\n');                // a surrogate
        write(c, (byte) 0xf4, (byte) 0x90, (byte) 0x80, (byte) 0x80, (byte) '\n');   // above U+10FFFF
        write(c, (byte) 0xe2, (byte) 0x82, (byte) 'x', (byte) 0xff, (byte) '\n');    // truncated, then junk
        write(c, (byte) 0xe2, (byte) 0x82);                                          // truncated at the end
        c.finish();
        assertEquals("caf\u00e9 \u20ac \uD83D\uDE00\n"
                + "\\x9b2J\n"
                + "\\xc2\\x9b\n"
                + "\\xc0\\x80\n"
                + "\\xed\\xa0\\x80\n"
                + "\\xf4\\x90\\x80\\x80\n"
                + "\\xe2\\x82x\\xff\n"
                + "\\xe2\\x82", shown());
    }

    @Test
    void noShownByteIsAControlCharacterWhateverTheGuestWrites() {
        Console c = new Console(out, "vm");
        for (int b = 0; b < 256; b++) {
            for (int k = 0; k < 256; k += 17) {
                c.write(b);
                c.write(k);
            }
        }
        c.finish();
        String s = shown();
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            assertTrue(ch == '\n' || ch == '\t' || (ch >= 0x20 && ch != 0x7f && (ch < 0x80 || ch > 0x9f)),
                    "control character U+" + Integer.toHexString(ch) + " at " + i);
        }
    }

    @Test
    void longLinesAreSplitAndNothingIsBufferedWithoutBound() {
        Console c = new Console(out, "vm");
        int n = 1_000_000;
        for (int i = 0; i < n; i++) {
            c.write('x');
        }
        // Before the end of the run almost all of it is already out: only the last partial line is held.
        assertEquals(n / Console.MAX_LINE * (Console.MAX_LINE + "[vm] \n".length()), out.size());
        c.finish();
        String[] lines = shown().split("\n");
        assertEquals((n + Console.MAX_LINE - 1) / Console.MAX_LINE, lines.length);
        long xs = 0;
        for (String line : lines) {
            assertTrue(line.startsWith("[vm] "), line);
            assertTrue(line.length() <= "[vm] ".length() + Console.MAX_LINE, "line of " + line.length());
            xs += line.length() - "[vm] ".length();
        }
        assertEquals(n, xs);
        assertEquals(n, c.bytes());
    }

    @Test
    void unprefixedLinesAreSplitTooWithoutCuttingAnEscape() {
        Console c = new Console(out, null);
        for (int i = 0; i < Console.MAX_LINE - 2; i++) {
            c.write('a');
        }
        c.write(0x1b); // its 4-byte escape does not fit in the 2 bytes left: it starts the next line
        c.write('\n');
        c.finish();
        assertEquals("a".repeat(Console.MAX_LINE - 2) + "\n\\x1b\n", shown());
    }

    @Test
    void endLineEndsAnUnfinishedLineOnlyOnce() {
        Console c = new Console(out, null);
        write(c, "no newline");
        c.finish();
        c.endLine();
        c.endLine();
        assertEquals("no newline\n", shown());
        Console atStart = new Console(out, null);
        write(atStart, "x\n");
        atStart.endLine();
        assertEquals("no newline\nx\n", shown());
    }

    @Test
    void prefixedLinesAreWrittenWholeWithAnEscapedPrefix() {
        Console c = new Console(out, "evil\u001b[31m");
        write(c, "one\ntwo");
        assertEquals("[evil\\x1b[31m] one\n", shown());
        c.finish();
        assertEquals("[evil\\x1b[31m] one\n[evil\\x1b[31m] two\n", shown());
    }

    @Test
    void textKeepsWhatTheGuestWroteUnfiltered() {
        Console c = new Console(out, null);
        write(c, "\u001b[2J\r\n");
        assertEquals("\u001b[2J\r\n", c.text());
        assertEquals(6, c.bytes());
    }
}
