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

    public ClockData() {
        super(Layout.sizeOf("kvm_clock_data"));
    }

    public long clock() { return buffer.getLong(CLOCK); }
    public int flags() { return buffer.getInt(FLAGS); }
    public ClockData clock(long v) { buffer.putLong(CLOCK, v); return this; }
    public ClockData flags(int v) { buffer.putInt(FLAGS, v); return this; }
}
