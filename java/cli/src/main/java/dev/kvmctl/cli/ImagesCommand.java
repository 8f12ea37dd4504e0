package dev.kvmctl.cli;

import dev.kvmctl.guests.BuiltinImages;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;

/** {@code kvmctl images}: lists the guest images carried inside the jar. */
final class ImagesCommand implements Callable<Integer> {
    /** The command's model: no options but help. */
    static CommandSpec spec(ImagesCommand c) {
        CommandSpec s = Specs.command(c, "images", "Lists the guest images built into kvmctl (usable by name with launch --image).");
        Specs.addHelpOptions(s);
        return s;
    }

    @Override
    public Integer call() {
        for (BuiltinImages.Image image : BuiltinImages.list()) {
            System.out.printf("%-20s %-4s ring %d  %s%n", image.file(), image.mode().name().toLowerCase(java.util.Locale.ROOT),
                    image.ring(), image.description());
        }
        return 0;
    }
}
