package dev.kvmctl.guests;

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
 *
 * <pre>{@code
 * BuiltinImages.Image hello = BuiltinImages.find("hello-long").orElseThrow();
 * GuestConfig config = GuestConfig.builder(BuiltinImages.load(hello))
 *         .mode(hello.mode()).ring(hello.ring()).build();
 * }</pre>
 */
public final class BuiltinImages {
    private static final String DIR = "/dev/kvmctl/guests/images/";

    /**
     * A built-in image: its file name, its defaults, and a one-line description.
     *
     * @param file the file name inside the jar, with its suffix ({@code hello-long.elf})
     * @param mode the mode it starts in
     * @param ring the ring it runs at in long mode (0 or 3; 0 for real mode)
     * @param description what it does, in one line, as {@code kvmctl images} prints it
     */
    public record Image(String file, CpuMode mode, int ring, String description) {}

    private BuiltinImages() {}

    /** {@return every built-in image, sorted by file name; empty if the jar carries none} */
    public static List<Image> list() {
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

    /**
     * Looks up a built-in image by name.
     *
     * @param name the image's name, with or without its {@code .elf}/{@code .bin} suffix
     * @return the image, or empty if there is none of that name
     */
    public static Optional<Image> find(String name) {
        Properties p = manifest();
        for (String candidate : new String[] {name, name + ".elf", name + ".bin"}) {
            if (p.getProperty(candidate + ".mode") != null) {
                return Optional.of(image(p, candidate));
            }
        }
        return Optional.empty();
    }

    /**
     * Reads an image file out of the jar.
     *
     * @param image one of {@link #list()}
     * @return the file's bytes, a new array
     * @throws IllegalStateException if the image is listed but missing from the jar
     */
    public static byte[] bytes(Image image) {
        try (InputStream in = BuiltinImages.class.getResourceAsStream(DIR + image.file())) {
            if (in == null) {
                throw new IllegalStateException("built-in image " + image.file() + " is listed but missing from the jar; rebuild with 'make'");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * Parses a built-in image, flat ones at their mode's {@link CpuMode#defaultLoadAddress()}.
     *
     * @param image one of {@link #list()}
     * @return the parsed image, ready for {@link GuestConfig#builder}
     */
    public static GuestImage load(Image image) {
        long load = image.mode().defaultLoadAddress();
        return GuestImage.parse(image.file(), bytes(image), load, load);
    }

    /**
     * Parses the built-in image called {@code name}, as {@link #load(Image)} does.
     *
     * @param name the image's name, with or without its suffix ({@code "hello-long"})
     * @return the parsed image
     * @throws IllegalArgumentException if there is no such image
     */
    public static GuestImage load(String name) {
        return load(find(name).orElseThrow(() -> new IllegalArgumentException("no built-in image '" + name + "'")));
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
