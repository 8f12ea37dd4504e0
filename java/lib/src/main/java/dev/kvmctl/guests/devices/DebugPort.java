package dev.kvmctl.guests.devices;

/**
 * The Bochs/QEMU debug console at port 0xe9: each byte written goes to the console; reads return
 * 0xe9, which is how guests detect it.
 *
 * <pre>{@code
 * PortBus bus = new PortBus();
 * bus.register(DebugPort.PORT, 1, new DebugPort(console));
 * }</pre>
 */
public final class DebugPort implements PortDevice {
    /** The port it answers, 0xe9: also the value it reads as. */
    public static final int PORT = 0xe9;

    private final Console console;

    /**
     * A debug port printing to {@code console}.
     *
     * @param console where the bytes go
     */
    public DebugPort(Console console) {
        this.console = console;
    }

    @Override
    public void out(int port, int size, int value) {
        console.write(value & 0xff);
    }

    @Override
    public int in(int port, int size) {
        return PORT;
    }

    @Override
    public String toString() {
        return "debug port";
    }
}
