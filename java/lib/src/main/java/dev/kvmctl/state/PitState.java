package dev.kvmctl.state;

import dev.kvmctl.internal.bridge.Layout;

/**
 * The in-kernel PIT's state ({@code struct kvm_pit_state2}): its three channels and flags.
 *
 * <pre>{@code
 * PitState pit = vm.getPit(new PitState());
 * }</pre>
 */
public final class PitState extends KvmStruct {
    private static final int FLAGS = Layout.offsetOf("kvm_pit_state2", "flags");

    /** A zeroed {@code struct kvm_pit_state2}, to fill with {@link dev.kvmctl.Vm#getPit(PitState)}. */
    public PitState() {
        super(Layout.sizeOf("kvm_pit_state2"));
    }

    /** {@return the {@code KVM_PIT_FLAGS_*} flags (bit 0: HPET legacy mode, the PIT's interrupts off)} */
    public int flags() { return buffer.getInt(FLAGS); }
}
