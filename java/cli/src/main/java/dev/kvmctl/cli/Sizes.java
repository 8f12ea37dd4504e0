package dev.kvmctl.cli;

import java.time.Duration;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** Parsers for the CLI's sizes ({@code 16M}, {@code 4096}, {@code 2G}) and durations ({@code 10s}, {@code 500ms}). */
final class Sizes {
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*([kmgt]?)(i?b)?", Pattern.CASE_INSENSITIVE);
    private static final Pattern DURATION = Pattern.compile("(\\d+(?:\\.\\d+)?)\\s*(ns|us|ms|s|m|h)?", Pattern.CASE_INSENSITIVE);

    private Sizes() {}

    /** Bytes from {@code 4096}, {@code 64K}, {@code 16M}, {@code 2G}, {@code 1T} (binary units). */
    static long parseSize(String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new TypeConversionException("'" + text + "' is not a size; use e.g. 4096, 64K, 16M, 2G");
        }
        int shift = switch (m.group(2).toLowerCase(Locale.ROOT)) {
            case "k" -> 10;
            case "m" -> 20;
            case "g" -> 30;
            case "t" -> 40;
            default -> 0;
        };
        try {
            long value = Long.parseLong(m.group(1));
            if (value > (Long.MAX_VALUE >> shift)) {
                throw new TypeConversionException("'" + text + "' is too large");
            }
            return value << shift;
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + text + "' is too large");
        }
    }

    /** A duration from {@code 10s}, {@code 500ms}, {@code 250us}, {@code 2m}, {@code 1.5s}; a bare number is seconds. */
    static Duration parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            throw new TypeConversionException("'" + text + "' is not a duration; use e.g. 500ms, 10s, 2m");
        }
        double value = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "s" : m.group(2).toLowerCase(Locale.ROOT);
        double nanos = value * switch (unit) {
            case "ns" -> 1;
            case "us" -> 1e3;
            case "ms" -> 1e6;
            case "m" -> 60e9;
            case "h" -> 3600e9;
            default -> 1e9;
        };
        if (nanos > Long.MAX_VALUE) {
            throw new TypeConversionException("'" + text + "' is too long; use at most 2562047h");
        }
        if (nanos > 0 && nanos < 1) {
            // It would round to 0, which means "no limit" to --timeout: never turn a tiny limit into none.
            throw new TypeConversionException("'" + text + "' is less than 1ns, the finest duration kvmctl takes");
        }
        return Duration.ofNanos((long) nanos);
    }

    /** A duration as the CLI writes it: {@code 1ms}, {@code 250us}, {@code 2s}. */
    static String format(Duration d) {
        long ns = d.toNanos();
        if (ns % 1_000_000_000L == 0) {
            return ns / 1_000_000_000L + "s";
        }
        if (ns % 1_000_000L == 0) {
            return ns / 1_000_000L + "ms";
        }
        if (ns % 1_000L == 0) {
            return ns / 1_000L + "us";
        }
        return ns + "ns";
    }

    /** A size as the CLI writes it: {@code 16M}, {@code 4K}, {@code 152G}, or bytes. */
    static String formatSize(long bytes) {
        String units = "KMGT";
        for (int i = units.length() - 1; i >= 0; i--) {
            int shift = 10 * (i + 1);
            if (bytes != 0 && bytes % (1L << shift) == 0) {
                return (bytes >> shift) + units.substring(i, i + 1);
            }
        }
        return Long.toString(bytes);
    }

    /** A number that may be hexadecimal ({@code 0x100000}). */
    static long parseAddress(String text) {
        String t = text.trim().toLowerCase(Locale.ROOT).replace("_", "");
        try {
            return t.startsWith("0x") ? Long.parseUnsignedLong(t.substring(2), 16) : Long.parseLong(t);
        } catch (NumberFormatException e) {
            throw new TypeConversionException("'" + text + "' is not an address; use decimal or 0x-prefixed hex");
        }
    }

    static final class SizeConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return parseSize(value);
        }
    }

    static final class DurationConverter implements ITypeConverter<Duration> {
        @Override
        public Duration convert(String value) {
            return parseDuration(value);
        }
    }

    static final class AddressConverter implements ITypeConverter<Long> {
        @Override
        public Long convert(String value) {
            return parseAddress(value);
        }
    }
}
