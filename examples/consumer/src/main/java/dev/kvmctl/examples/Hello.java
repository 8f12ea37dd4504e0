package dev.kvmctl.examples;

import dev.kvmctl.Kvm;
import dev.kvmctl.Vcpu;
import dev.kvmctl.Vm;
import dev.kvmctl.VmExit;
import dev.kvmctl.GuestMemory;
import dev.kvmctl.state.Segment;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * A library user's first program: a VM with 1 MiB of RAM, a few bytes of 16-bit real-mode code
 * that write a message to the serial port (0x3f8) one {@code out} at a time and then {@code hlt},
 * and the exit loop that prints what the guest wrote.
 */
public final class Hello {
    private static final long ENTRY = 0x1000;
    private static final int SERIAL_PORT = 0x3f8;

    public static void main(String[] args) {
        byte[] code = program("hello from a library user\n");

        // Opened in the recommended order (see dev.kvmctl's package doc), so they close in reverse.
        try (Kvm kvm = Kvm.open();
             GuestMemory ram = GuestMemory.anonymous(1 << 20);
             Vm vm = kvm.createVm()) {
            vm.mapMemory(0, ram);
            ram.write(ENTRY, code);

            Vcpu vcpu = vm.createVcpu(0);
            vcpu.setSregs(vcpu.getSregs().cs(Segment.real(0, true)));   // real mode, CS base 0
            vcpu.setRegs(vcpu.getRegs().rip(ENTRY).rflags(2));

            StringBuilder output = new StringBuilder();
            while (true) {
                VmExit exit = vcpu.run();
                if (exit instanceof VmExit.IoOut out && out.port() == SERIAL_PORT) {
                    output.append((char) out.value());
                } else if (exit instanceof VmExit.Hlt) {
                    break;
                } else {
                    throw new IllegalStateException("unexpected exit: " + exit);
                }
            }
            System.out.print("guest says: " + output);
        }
    }

    /** {@code mov dx, 0x3f8}, then {@code mov al, c; out dx, al} for each character, then {@code hlt}. */
    private static byte[] program(String message) {
        ByteArrayOutputStream code = new ByteArrayOutputStream();
        code.writeBytes(new byte[] {(byte) 0xba, (byte) SERIAL_PORT, (byte) (SERIAL_PORT >> 8)});
        for (byte c : message.getBytes(StandardCharsets.US_ASCII)) {
            code.writeBytes(new byte[] {(byte) 0xb0, c, (byte) 0xee});
        }
        code.write(0xf4);
        return code.toByteArray();
    }
}
