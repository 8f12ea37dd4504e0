package dev.kvmctl.guests;

import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.GuestMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything needed to boot one guest: its image, CPU mode and ring, RAM size, boot arguments,
 * console, and any shared regions to map.
 *
 * <pre>{@code
 * GuestConfig config = GuestConfig.builder(GuestImage.read(path, 0x100000, 0x100000))
 *         .mode(CpuMode.LONG).ring(3).memorySize(16 << 20)
 *         .console(new Console(System.out, null))
 *         .build();
 * }</pre>
 */
public final class GuestConfig {
    /** Default RAM: 16 MiB. */
    public static final long DEFAULT_MEMORY = 16L << 20;

    /** A region of host memory mapped into the guest at {@code guestAddress}, outside its RAM. */
    public record SharedMapping(GuestMemory memory, long guestAddress) {}

    private final String name;
    private final GuestImage image;
    private final CpuMode mode;
    private final int ring;
    private final long memorySize;
    private final long[] args;
    private final Console console;
    private final List<SharedMapping> shared;
    private final int vmIndex;
    private final int vmCount;
    private final boolean irqchip;

    private GuestConfig(Builder b) {
        this.name = b.name != null ? b.name : b.image.name();
        this.image = b.image;
        this.mode = b.mode;
        this.ring = b.ring;
        this.memorySize = b.memorySize;
        this.args = b.args.clone();
        this.console = b.console != null ? b.console : new Console(System.out, null);
        this.shared = List.copyOf(b.shared);
        this.vmIndex = b.vmIndex;
        this.vmCount = b.vmCount;
        this.irqchip = b.irqchip;
    }

    public static Builder builder(GuestImage image) {
        return new Builder(Objects.requireNonNull(image, "image"));
    }

    /**
     * A builder for a guest whose memory already holds its program (a restored snapshot): it has
     * no image, so {@link Machine#boot} refuses it; {@link Machine#adopt} takes it.
     */
    public static Builder withoutImage(String name) {
        return new Builder(null).name(Objects.requireNonNull(name, "name"));
    }

    public String name() { return name; }
    /** The image to load, or null for a guest restored from a snapshot. */
    public GuestImage image() { return image; }
    public CpuMode mode() { return mode; }
    public int ring() { return ring; }
    public long memorySize() { return memorySize; }
    public long[] args() { return args.clone(); }
    public Console console() { return console; }
    public List<SharedMapping> shared() { return shared; }
    public int vmIndex() { return vmIndex; }
    public int vmCount() { return vmCount; }
    public boolean irqchip() { return irqchip; }

    /** Builds a {@link GuestConfig}; every setting but the image has a default. */
    public static final class Builder {
        private final GuestImage image;
        private String name;
        private CpuMode mode = CpuMode.LONG;
        private int ring = 0;
        private long memorySize = DEFAULT_MEMORY;
        private long[] args = new long[0];
        private Console console;
        private final List<SharedMapping> shared = new ArrayList<>();
        private int vmIndex = 0;
        private int vmCount = 1;
        private boolean irqchip;

        private Builder(GuestImage image) {
            this.image = image;
        }

        public Builder name(String v) { this.name = v; return this; }
        public Builder mode(CpuMode v) { this.mode = Objects.requireNonNull(v); return this; }

        public Builder ring(int v) {
            if (v != 0 && v != 3) {
                throw new IllegalArgumentException("ring must be 0 or 3, got " + v);
            }
            this.ring = v;
            return this;
        }

        public Builder memorySize(long v) {
            if (v <= 0 || v % GuestMemory.PAGE_SIZE != 0) {
                throw new IllegalArgumentException("memory size must be a positive multiple of 4 KiB, got " + v);
            }
            this.memorySize = v;
            return this;
        }

        /** Up to four 64-bit arguments, passed in the boot info page. */
        public Builder args(long... v) {
            if (v.length > BootInfo.ARGS) {
                throw new IllegalArgumentException("at most " + BootInfo.ARGS + " guest arguments");
            }
            this.args = v.clone();
            return this;
        }

        public Builder console(Console v) { this.console = v; return this; }

        /** Maps {@code memory} at {@code guestAddress} (outside RAM); the first mapping is announced in the boot info. */
        public Builder share(GuestMemory memory, long guestAddress) {
            shared.add(new SharedMapping(memory, guestAddress));
            return this;
        }

        /** This VM's index among {@code count} VMs started together (told to the guest in the boot info). */
        public Builder vmIndex(int index, int count) {
            if (index < 0 || count <= index) {
                throw new IllegalArgumentException("VM index " + index + " outside 0.." + (count - 1));
            }
            this.vmIndex = index;
            this.vmCount = count;
            return this;
        }

        /** Gives the VM an in-kernel irqchip (PIC, IOAPIC, local APIC) and PIT. */
        public Builder irqchip(boolean v) { this.irqchip = v; return this; }

        public GuestConfig build() {
            return new GuestConfig(this);
        }
    }
}
