package dev.kvmctl.cli;

import dev.kvmctl.guests.CpuMode;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Properties;

/**
 * The guest images built from {@code vm-images/} and carried inside the jar, with the mode and
 * ring each one expects (from {@code images.properties} beside them).
 */
final class BuiltinImages {
    private static final String DIR = "/dev/kvmctl/guests/images/";

    /** A built-in image: its file name, its defaults, and a one-line description. */
    record Image(String file, CpuMode mode, int ring, String description) {}

    private BuiltinImages() {}

    static List<Image> list() {
        Properties p = manifest();
        List<Image> images = new ArrayList<>();
        for (String name : new java.util.TreeSet<>(p.stringPropertyNames())) {
            if (name.endsWith(".mode")) {
                String file = name.substring(0, name.length() - ".mode".length());
                images.add(image(p, file));
            }
        }
        return images;
    }

    /** The built-in image called {@code name} (with or without its .elf/.bin suffix). */
    static Optional<Image> find(String name) {
        Properties p = manifest();
        for (String candidate : new String[] {name, name + ".elf", name + ".bin"}) {
            if (p.getProperty(candidate + ".mode") != null) {
                return Optional.of(image(p, candidate));
            }
        }
        return Optional.empty();
    }

    static byte[] bytes(Image image) {
        try (InputStream in = BuiltinImages.class.getResourceAsStream(DIR + image.file())) {
            if (in == null) {
                throw new IllegalStateException("built-in image " + image.file() + " is listed but missing from the jar; rebuild with 'make'");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Image image(Properties p, String file) {
        return new Image(file, CpuMode.valueOf(p.getProperty(file + ".mode").toUpperCase(Locale.ROOT)),
                Integer.parseInt(p.getProperty(file + ".ring", "0")), p.getProperty(file + ".description", ""));
    }

    private static Properties manifest() {
        Properties p = new Properties();
        try (InputStream in = BuiltinImages.class.getResourceAsStream(DIR + "images.properties")) {
            if (in != null) {
                p.load(in);
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return p;
    }
}
