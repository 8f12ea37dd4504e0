package dev.kvmctl.contexts;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.kvmctl.Kvm;
import dev.kvmctl.KvmAvailable;
import dev.kvmctl.guests.Machine;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/**
 * A machine whose VM is gone, closed or discarded between a cold switch-out and the next
 * rebuild: every call that needs the VM is an {@link IllegalStateException} saying which, never a
 * {@code NullPointerException} or a call on a closed descriptor, and a snapshot writes nothing.
 */
class MachineWithoutVmTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void kvm() {
        KvmAvailable.assumeKvm();
    }

    /** The calls that touch the VM, each named for the failure message. */
    private List<Executable> vmCalls(Machine m, Path snapshot) {
        return List.of(
                () -> m.run(Duration.ofSeconds(30)),
                m::runSlice,
                () -> new MachineContext(m).capture(m),
                () -> new MachineContext(m).restore(m),
                () -> Snapshot.write(m, snapshot, done -> {}),
                () -> m.onVmCreated(vm -> {}));
    }

    private static void assertRefused(List<Executable> calls, String expected) {
        for (int i = 0; i < calls.size(); i++) {
            IllegalStateException e = assertThrows(IllegalStateException.class, calls.get(i), "call " + i);
            assertTrue(e.getMessage().contains(expected), "call " + i + ": " + e.getMessage());
        }
    }

    @Test
    void aDiscardedVmIsAClearErrorUntilRebuilt() {
        Path snapshot = dir.resolve("discarded.snap");
        try (Kvm kvm = Kvm.open(); Machine m = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false)) {
            m.discardVm();
            assertRefused(vmCalls(m, snapshot), "its VM was discarded; call rebuildVm() first");
            assertFalse(Files.exists(snapshot), "no snapshot written");
            assertFalse(m.finished(), "refusing a call does not end the guest");
            m.rebuildVm();
            assertNotNull(m.requireVm());
        }
    }

    @Test
    void aClosedMachineIsAClearError() {
        Path snapshot = dir.resolve("closed.snap");
        try (Kvm kvm = Kvm.open()) {
            Machine m = Guests.boot(kvm, "hello-long", new ByteArrayOutputStream(), false);
            m.close();
            List<Executable> calls = new java.util.ArrayList<>(vmCalls(m, snapshot));
            calls.add(m::rebuildVm);
            assertRefused(calls, "the machine is closed");
            assertFalse(Files.exists(snapshot), "no snapshot written");
            m.wake(); // from another thread this must stay harmless: nothing closed is kicked
            m.close(); // and closing twice too
        }
    }
}
