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

    public PitState() {
        super(Layout.sizeOf("kvm_pit_state2"));
    }

    public int flags() { return buffer.getInt(FLAGS); }
}
