package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * The VM's kvmclock ({@code struct kvm_clock_data}): guest-visible nanoseconds.
 *
 * <pre>{@code
 * ClockData c = vm.getClock(new ClockData());
 * long ns = c.clock();
 * }</pre>
 */
public final class ClockData extends KvmStruct {
    private static final int CLOCK = Layout.offsetOf("kvm_clock_data", "clock");
    private static final int FLAGS = Layout.offsetOf("kvm_clock_data", "flags");

    /** A zeroed {@code struct kvm_clock_data}, to fill with {@link dev.kvmctl.Vm#getClock(ClockData)}. */
    public ClockData() {
        super(Layout.sizeOf("kvm_clock_data"));
    }

    /** {@return the guest's kvmclock time in nanoseconds} */
    public long clock() { return buffer.getLong(CLOCK); }
    /**
     * {@return the {@code KVM_CLOCK_*} flags: what KVM_GET_CLOCK could say about the host (such as
     * a stable TSC)}
     */
    public int flags() { return buffer.getInt(FLAGS); }
    /**
     * Sets the guest's kvmclock time.
     *
     * @param v nanoseconds
     * @return this struct
     */
    public ClockData clock(long v) { buffer.putLong(CLOCK, v); return this; }
    /**
     * Sets the flags.
     *
     * @param v the {@code KVM_CLOCK_*} flags; 0 for {@link dev.kvmctl.Vm#setClock}: the flags
     *     KVM_GET_CLOCK reports describe the host, and a kernel may refuse them
     * @return this struct
     */
    public ClockData flags(int v) { buffer.putInt(FLAGS, v); return this; }
}
