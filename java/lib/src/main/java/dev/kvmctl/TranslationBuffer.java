package dev.kvmctl;

import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.Memory;
import dev.kvmctl.state.Translation;
import java.nio.ByteBuffer;

/** A per-thread {@code struct kvm_translation} for {@link Vcpu#translate(long)}. */
final class TranslationBuffer {
    private static final int SIZE = Layout.sizeOf("kvm_translation");
    private static final int LINEAR = Layout.offsetOf("kvm_translation", "linear_address");
    private static final int PHYSICAL = Layout.offsetOf("kvm_translation", "physical_address");
    private static final int VALID = Layout.offsetOf("kvm_translation", "valid");
    private static final int WRITEABLE = Layout.offsetOf("kvm_translation", "writeable");
    private static final int USERMODE = Layout.offsetOf("kvm_translation", "usermode");
    private static final ThreadLocal<Holder> HOLDER = ThreadLocal.withInitial(Holder::new);

    private TranslationBuffer() {}

    static Holder get() {
        return HOLDER.get();
    }

    static final class Holder {
        private final ByteBuffer buffer = Memory.allocate(SIZE);
        private final long address = Memory.addressOf(buffer);

        long address() {
            return address;
        }

        void linearAddress(long v) {
            Memory.fill(address, SIZE, (byte) 0);
            buffer.putLong(LINEAR, v);
        }

        Translation result() {
            return new Translation(buffer.getLong(LINEAR), buffer.getLong(PHYSICAL), buffer.get(VALID) != 0,
                    buffer.get(WRITEABLE) != 0, buffer.get(USERMODE) != 0);
        }
    }
}
