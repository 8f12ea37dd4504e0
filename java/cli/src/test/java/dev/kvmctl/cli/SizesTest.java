package dev.kvmctl.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import picocli.CommandLine.TypeConversionException;

/**
 * The CLI's size, duration and address parsers against tables of expected values written out by
 * hand (binary units: 1K = 1024), with the limits of a {@code long} and the refusals' messages.
 */
class SizesTest {
    @Test
    void sizesInEveryUnitAndSpelling() {
        Object[][] table = {
            {"0", 0L}, {"4096", 4096L}, {"7b", 7L}, {"7B", 7L},
            {"64K", 65_536L}, {"64k", 65_536L}, {"64KB", 65_536L}, {"64KiB", 65_536L}, {"64kib", 65_536L},
            {"16M", 16_777_216L}, {"16MiB", 16_777_216L}, {"16mb", 16_777_216L}, {"12 K", 12_288L}, {" 8M ", 8_388_608L},
            {"2G", 2_147_483_648L}, {"3g", 3_221_225_472L}, {"1T", 1_099_511_627_776L}, {"1TiB", 1_099_511_627_776L},
            {"9223372036854775807", Long.MAX_VALUE},
            {"9007199254740991K", 9_223_372_036_854_774_784L},  // (2^63 - 1) >> 10, shifted back
            {"8796093022207M", 9_223_372_036_853_727_232L},     // (2^63 - 1) >> 20
            {"8589934591G", 9_223_372_035_781_033_984L},        // (2^63 - 1) >> 30
            {"8388607T", 9_223_370_937_343_148_032L},           // (2^63 - 1) >> 40
        };
        for (Object[] row : table) {
            assertEquals((long) row[1], Sizes.parseSize((String) row[0]), (String) row[0]);
            assertEquals((Long) row[1], new Sizes.SizeConverter().convert((String) row[0]), (String) row[0]);
        }
    }

    @Test
    void sizesBeyondALongAreTooLarge() {
        for (String t : new String[] {"9223372036854775808", "99999999999999999999", "9007199254740992K", "8796093022208M",
            "8589934592G", "8388608T", "9999999999T"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parseSize(t), t);
            assertEquals("'" + t + "' is too large", e.getMessage());
        }
    }

    @Test
    void whatIsNotASizeIsRefusedWithAnExample() {
        for (String t : new String[] {"", " ", "M", "-1", "+1", "1.5G", "12Q", "0x10", "1E", "16 M B", "1 0K", "K4", "4KK"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parseSize(t), "'" + t + "'");
            assertEquals("'" + t + "' is not a size; use e.g. 4096, 64K, 16M, 2G", e.getMessage());
        }
    }

    @Test
    void durationsInEveryUnit() {
        Object[][] table = {
            {"10s", Duration.ofSeconds(10)}, {"5", Duration.ofSeconds(5)}, {"0", Duration.ZERO}, {"0.25", Duration.ofMillis(250)},
            {"500ms", Duration.ofMillis(500)}, {"10MS", Duration.ofMillis(10)}, {"250us", Duration.ofNanos(250_000)},
            {"100ns", Duration.ofNanos(100)}, {"2m", Duration.ofMinutes(2)}, {"1h", Duration.ofHours(1)}, {"2H", Duration.ofHours(2)},
            {"1.5s", Duration.ofMillis(1500)}, {"1.5ms", Duration.ofNanos(1_500_000)}, {" 3 s ", Duration.ofSeconds(3)},
            {"2562047h", Duration.ofHours(2_562_047)},
            {"9223372036854775807ns", Duration.ofNanos(Long.MAX_VALUE)},
        };
        for (Object[] row : table) {
            assertEquals(row[1], Sizes.parseDuration((String) row[0]), (String) row[0]);
            assertEquals(row[1], new Sizes.DurationConverter().convert((String) row[0]), (String) row[0]);
        }
    }

    @Test
    void durationsBeyondALongOfNanosecondsAreTooLong() {
        for (String t : new String[] {"2562048h", "153722868m", "9223372037s", "99999999999999999999999ns"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parseDuration(t), t);
            assertEquals("'" + t + "' is too long; use at most 2562047h", e.getMessage());
        }
    }

    @Test
    void whatIsNotADurationIsRefusedWithAnExample() {
        for (String t : new String[] {"", "s", "soon", "-1s", "1e9h", "5 fortnights", "1.s", ".5s", "1d", "1 ms s", "10sec"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parseDuration(t), "'" + t + "'");
            assertEquals("'" + t + "' is not a duration; use e.g. 500ms, 10s, 2m", e.getMessage());
        }
    }

    @Test
    void durationsAreWrittenInTheirLargestWholeUnit() {
        Object[][] table = {
            {Duration.ZERO, "0s"}, {Duration.ofSeconds(2), "2s"}, {Duration.ofMinutes(2), "120s"}, {Duration.ofMillis(1), "1ms"},
            {Duration.ofMillis(1500), "1500ms"}, {Duration.ofNanos(250_000), "250us"}, {Duration.ofNanos(1500), "1500ns"},
            {Duration.ofNanos(7), "7ns"},
        };
        for (Object[] row : table) {
            assertEquals(row[1], Sizes.format((Duration) row[0]));
        }
        // What it writes, it reads back (below 2^53 ns, about 104 days, where the parser's double is exact).
        SplittableRandom rnd = new SplittableRandom(13);
        for (int i = 0; i < 2000; i++) {
            long unit = new long[] {1, 1_000, 1_000_000, 1_000_000_000}[rnd.nextInt(4)];
            Duration d = Duration.ofNanos(rnd.nextLong(1L << 53) / unit * unit);
            assertEquals(d, Sizes.parseDuration(Sizes.format(d)), Sizes.format(d));
        }
    }

    @Test
    void addressesInDecimalOrHex() {
        Object[][] table = {
            {"0x100000", 0x100000L}, {"1048576", 0x100000L}, {"0X7C00", 0x7c00L}, {" 0x7c00 ", 0x7c00L}, {"0x_10_00", 0x1000L},
            {"1_000", 1000L}, {"0", 0L}, {"-5", -5L}, {"0xffffffffffffffff", -1L}, {"0x8000000000000000", Long.MIN_VALUE},
        };
        for (Object[] row : table) {
            assertEquals((long) row[1], Sizes.parseAddress((String) row[0]), (String) row[0]);
            assertEquals((Long) row[1], new Sizes.AddressConverter().convert((String) row[0]), (String) row[0]);
        }
        for (String t : new String[] {"", "0x", "nowhere", "0xzz", "1x", "0x10000000000000000", "99999999999999999999", "12Q"}) {
            TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parseAddress(t), "'" + t + "'");
            assertEquals("'" + t + "' is not an address; use decimal or 0x-prefixed hex", e.getMessage());
        }
    }

    @Test
    void oneNanosecondIsTheFinestDurationTaken() {
        assertEquals(java.time.Duration.ofNanos(1), Sizes.parseDuration("1ns"));
        assertEquals(java.time.Duration.ofNanos(1), Sizes.parseDuration("1.5ns"));
        assertEquals(java.time.Duration.ZERO, Sizes.parseDuration("0ns"));
        TypeConversionException e = assertThrows(TypeConversionException.class, () -> Sizes.parseDuration("0.5ns"));
        assertEquals("'0.5ns' is less than 1ns, the finest duration kvmctl takes", e.getMessage());
    }

    @Test
    void sizesAreWrittenInTheLargestExactUnit() {
        assertEquals("0", Sizes.formatSize(0));
        assertEquals("1", Sizes.formatSize(1));
        assertEquals("1023", Sizes.formatSize(1023));
        assertEquals("1K", Sizes.formatSize(1024));
        assertEquals("1025", Sizes.formatSize(1025));
        assertEquals("4K", Sizes.formatSize(4096));
        assertEquals("1536K", Sizes.formatSize(1536L << 10));
        assertEquals("16M", Sizes.formatSize(16L << 20));
        assertEquals("152G", Sizes.formatSize(152L << 30));
        assertEquals("3T", Sizes.formatSize(3L << 40));
        assertEquals("1024T", Sizes.formatSize(1L << 50));
        for (long bytes : new long[] {1, 4096, 12345, 16L << 20, 152L << 30, 3L << 40}) {
            assertEquals(bytes, Sizes.parseSize(Sizes.formatSize(bytes)), "round trip of " + bytes);
        }
    }
}
