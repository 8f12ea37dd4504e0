package dev.kvmctl.cli;

import dev.kvmctl.guests.BuiltinImages;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code kvmctl images}: lists the guest images carried inside the jar. */
@Command(name = "images", mixinStandardHelpOptions = true,
        description = "Lists the guest images built into kvmctl (usable by name with launch --image).")
final class ImagesCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        for (BuiltinImages.Image image : BuiltinImages.list()) {
            System.out.printf("%-20s %-4s ring %d  %s%n", image.file(), image.mode().name().toLowerCase(java.util.Locale.ROOT),
                    image.ring(), image.description());
        }
        return 0;
    }
}
