package dev.kvmctl.guests.devices;

/**
 * The smallest 8250 UART a guest can print with: writes to THR (base+0) go to the console, LSR
 * (base+5) always reads "transmitter empty", every other register reads 0 and ignores writes.
 *
 * <pre>{@code
 * PortBus bus = new PortBus();
 * bus.register(Serial8250.COM1, Serial8250.PORTS, new Serial8250(console));
 * }</pre>
 */
public final class Serial8250 implements PortDevice {
    /** The first port of COM1, where guests look for a serial console. */
    public static final int COM1 = 0x3f8;
    /** How many ports a UART claims from its base: its eight registers. */
    public static final int PORTS = 8;
    private static final int THR = 0, LSR = 5;
    private static final int LSR_THR_EMPTY = 0x20, LSR_TRANSMITTER_EMPTY = 0x40;

    private final Console console;

    /**
     * A UART printing to {@code console}.
     *
     * @param console where the bytes the guest transmits go
     */
    public Serial8250(Console console) {
        this.console = console;
    }

    @Override
    public void out(int port, int size, int value) {
        if ((port & 7) == THR) {
            console.write(value & 0xff);
        }
    }

    @Override
    public int in(int port, int size) {
        return (port & 7) == LSR ? LSR_THR_EMPTY | LSR_TRANSMITTER_EMPTY : 0;
    }

    @Override
    public String toString() {
        return "8250 UART";
    }
}
