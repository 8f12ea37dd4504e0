package dev.kvmctl.examples;

import dev.kvmctl.Kvm;
import dev.kvmctl.guests.BuiltinImages;
import dev.kvmctl.guests.GuestConfig;
import dev.kvmctl.guests.Machine;
import dev.kvmctl.guests.RunResult;
import java.time.Duration;

/**
 * The level above {@code Vm}/{@code Vcpu}: {@link Machine} boots one of the guest images that
 * ride inside the kvmctl jar, set up as {@code docs/guest-contract.md} says, and runs its exit
 * loop with a serial console on stdout.
 *
 * <pre>
 * mvn -q compile exec:java -Dexec.mainClass=dev.kvmctl.examples.RunBuiltinImage [-Dexec.args=fault]
 * </pre>
 */
public final class RunBuiltinImage {
    public static void main(String[] args) {
        String name = args.length > 0 ? args[0] : "hello-long";
        BuiltinImages.Image image = BuiltinImages.find(name)
                .orElseThrow(() -> new IllegalArgumentException("no built-in image " + name + "; try one of "
                        + BuiltinImages.list().stream().map(BuiltinImages.Image::file).toList()));
        GuestConfig config = GuestConfig.builder(BuiltinImages.load(image))
                .mode(image.mode())
                .ring(image.ring())
                .build();

        RunResult result;
        try (Kvm kvm = Kvm.open();
             Machine machine = Machine.boot(kvm, config)) {
            result = machine.run(Duration.ofSeconds(10));
        }
        System.out.printf("%s: %s, status %d, %d exits in %d ms%n", result.name(), result.outcome(),
                result.status(), result.exits(), result.runTime().toMillis());
        if (!result.succeeded()) {
            System.err.print(result.faultDump());
            System.exit(result.status() != 0 ? result.status() : 1);
        }
    }
}
