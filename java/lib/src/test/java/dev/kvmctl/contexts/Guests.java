package dev.kvmctl.contexts;

import dev.kvmctl.Kvm;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.CpuMode;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.devices.Console;
import java.io.ByteArrayOutputStream;

/** Test helper: machines booted from the built-in images, with their console kept in memory. */
final class Guests {
    private Guests() {}

    /** A ring-3 long-mode machine running built-in {@code image} with {@code args}. */
    static Machine boot(Kvm kvm, String image, ByteArrayOutputStream console, boolean irqchip, long... args) {
        GuestConfig config = GuestConfig.builder(BuiltinImages.load(image)).name(image).mode(CpuMode.LONG).ring(3)
                .args(args).irqchip(irqchip).console(new Console(console, null)).build();
        return Machine.boot(kvm, config);
    }

    /** The line of {@code text} that starts with {@code prefix}, or "" if none. */
    static String line(String text, String prefix) {
        for (String l : text.split("\n")) {
            if (l.contains(prefix)) {
                return l.trim();
            }
        }
        return "";
    }
}
