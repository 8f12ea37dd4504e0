package dev.kvmctl.guests.devices;

/**
 * The state of one device model of a VMM, as a named, versioned section that saves and restores
 * itself: contexts, switches and snapshots carry it beside the VM's and vCPUs' state (see
 * {@code dev.kvmctl.contexts.VmContext}). kvmctl stores the bytes as given and hands them back
 * with the version they were saved at; what they mean is the device's.
 *
 * <pre>{@code
 * DeviceState uart = new DeviceState() {
 *     private byte scratch;
 *     public String name() { return "uart0"; }
 *     public int version() { return 1; }
 *     public byte[] save() { return new byte[] {scratch}; }
 *     public void restore(int version, byte[] state) {
 *         if (version != 1 || state.length != 1) {
 *             throw new IllegalArgumentException("uart0 state v" + version + " of " + state.length + " bytes");
 *         }
 *         scratch = state[0];
 *     }
 * };
 * machine.registerDeviceState(uart);   // or pass it to VmContext.capture/restore, Snapshot.write/restoreInto
 * }</pre>
 *
 * <p>Called on the thread that captures or restores the context, while no vCPU of the VM runs.
 */
public interface DeviceState {
    /**
     * {@return the section's name, unique among the devices of one VM: it pairs the saved state
     * with the device at restore}
     */
    String name();

    /** {@return the version of the format {@link #save()} writes now; a restore is told which version it gets} */
    int version();

    /** {@return the device's state now, in its own format, version {@link #version()}; a new array} */
    byte[] save();

    /**
     * Replaces the device's state with a saved one.
     *
     * @param version the version the state was saved at (at most {@link #version()}: kvmctl
     *     refuses newer ones before calling)
     * @param state what {@link #save()} returned then, possibly in another process
     * @throws IllegalArgumentException if the state is not one this device can take; the device
     *     must be unchanged then
     */
    void restore(int version, byte[] state);
}
