package dev.kvmctl.guests;

import dev.kvmctl.guests.devices.Console;
import dev.kvmctl.GuestMemory;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Everything needed to boot one guest: its image, CPU mode and ring, RAM size, number of vCPUs,
 * boot arguments, console, and any shared regions to map.
 *
 * <pre>{@code
 * GuestConfig config = GuestConfig.builder(GuestImage.read(path, 0x100000, 0x100000))
 *         .mode(CpuMode.LONG).ring(3).memorySize(16 << 20)
 *         .console(new Console(System.out, null))
 *         .build();
 * }</pre>
 *
 * <p>Immutable. The {@link GuestMemory} of a shared mapping stays its creator's to close, after
 * every machine that maps it.
 */
public final class GuestConfig {
    /** Default RAM: 16 MiB. */
    public static final long DEFAULT_MEMORY = 16L << 20;

    /**
     * A region of host memory mapped into the guest at {@code guestAddress}, outside its RAM.
     *
     * @param memory the memory to map, owned by the caller (usually a memfd shared with other VMs)
     * @param guestAddress the guest-physical address of its first byte, above the guest's RAM
     */
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
    private final int cpus;

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
        this.cpus = b.cpus;
    }

    /**
     * Starts a configuration for a guest booted from {@code image}: long mode, ring 0, 16 MiB of
     * RAM, no arguments, output to {@code System.out}, named after the image.
     *
     * @param image what to load
     * @return a builder to change the defaults with
     */
    public static Builder builder(GuestImage image) {
        return new Builder(Objects.requireNonNull(image, "image"));
    }

    /**
     * A builder for a guest whose memory already holds its program (a restored snapshot): it has
     * no image, so {@link Machine#boot} refuses it; {@link Machine#adopt} takes it.
     *
     * @param name what output and reports call the guest
     * @return a builder with the same defaults as {@link #builder(GuestImage)}
     */
    public static Builder withoutImage(String name) {
        return new Builder(null).name(Objects.requireNonNull(name, "name"));
    }

    /** {@return what output and reports call the guest: the name given, else the image's} */
    public String name() { return name; }
    /** {@return the image to load, or null for a guest restored from a snapshot} */
    public GuestImage image() { return image; }
    /** {@return the mode the vCPU starts in} */
    public CpuMode mode() { return mode; }
    /** {@return the privilege level of a long-mode guest, 0 or 3 (real mode ignores it)} */
    public int ring() { return ring; }
    /** {@return the guest's RAM in bytes, a positive multiple of 4 KiB, mapped at guest-physical 0} */
    public long memorySize() { return memorySize; }
    /** {@return the guest arguments for the boot info page, a copy: at most {@link BootInfo#ARGS}} */
    public long[] args() { return args.clone(); }
    /** {@return where the guest's serial and debug-port output goes} */
    public Console console() { return console; }
    /** {@return the regions mapped beside RAM, in the order given; an unmodifiable list} */
    public List<SharedMapping> shared() { return shared; }
    /** {@return this VM's index among {@link #vmCount()} VMs started together, from 0} */
    public int vmIndex() { return vmIndex; }
    /** {@return how many VMs were started together, at least 1} */
    public int vmCount() { return vmCount; }
    /** {@return whether the VM gets an in-kernel irqchip and PIT} */
    public boolean irqchip() { return irqchip; }
    /** {@return how many vCPUs the VM has, 1 to {@link BootInfo#MAX_CPUS}} */
    public int cpus() { return cpus; }

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
        private int cpus = 1;

        private Builder(GuestImage image) {
            this.image = image;
        }

        /**
         * Names the guest in output and reports (default: the image's name).
         *
         * @param v the name; null for the default
         * @return this builder
         */
        public Builder name(String v) { this.name = v; return this; }

        /**
         * Sets the mode the vCPU starts in (default {@link CpuMode#LONG}).
         *
         * @param v the mode
         * @return this builder
         */
        public Builder mode(CpuMode v) { this.mode = Objects.requireNonNull(v); return this; }

        /**
         * Sets the privilege level a long-mode guest runs at (default 0). Under KVM's PVM backend
         * ring 0 is emulated, ring 3 runs natively.
         *
         * @param v 0 or 3
         * @return this builder
         * @throws IllegalArgumentException for any other ring
         */
        public Builder ring(int v) {
            if (v != 0 && v != 3) {
                throw new IllegalArgumentException("ring must be 0 or 3, got " + v);
            }
            this.ring = v;
            return this;
        }

        /**
         * Sets the guest's RAM (default {@link GuestConfig#DEFAULT_MEMORY}).
         *
         * @param v bytes, a positive multiple of 4 KiB
         * @return this builder
         * @throws IllegalArgumentException for any other size
         */
        public Builder memorySize(long v) {
            if (v <= 0 || v % GuestMemory.PAGE_SIZE != 0) {
                throw new IllegalArgumentException("memory size must be a positive multiple of 4 KiB, got " + v);
            }
            this.memorySize = v;
            return this;
        }

        /**
         * Sets the guest's arguments, passed in the boot info page (default: none, all 0).
         *
         * @param v up to {@link BootInfo#ARGS} 64-bit words, copied
         * @return this builder
         * @throws IllegalArgumentException for more than {@link BootInfo#ARGS}
         */
        public Builder args(long... v) {
            if (v.length > BootInfo.ARGS) {
                throw new IllegalArgumentException("at most " + BootInfo.ARGS + " guest arguments");
            }
            this.args = v.clone();
            return this;
        }

        /**
         * Sends the guest's output to {@code v} (default: a console on {@code System.out}).
         *
         * @param v the console; null for the default
         * @return this builder
         */
        public Builder console(Console v) { this.console = v; return this; }

        /**
         * Maps {@code memory} at {@code guestAddress} (outside RAM) in every VM the machine
         * creates; the first mapping is announced in the boot info.
         *
         * @param memory memory the caller owns and closes after the machine
         * @param guestAddress a 4 KiB-aligned guest-physical address above the guest's RAM
         * @return this builder
         */
        public Builder share(GuestMemory memory, long guestAddress) {
            shared.add(new SharedMapping(memory, guestAddress));
            return this;
        }

        /**
         * Tells the guest, in its boot info, that it is VM {@code index} of {@code count} started
         * together (default: 0 of 1).
         *
         * @param index from 0
         * @param count greater than {@code index}
         * @return this builder
         * @throws IllegalArgumentException if {@code index} is not in {@code [0, count)}
         */
        public Builder vmIndex(int index, int count) {
            if (index < 0 || count <= index) {
                throw new IllegalArgumentException("VM index " + index + " outside 0.." + (count - 1));
            }
            this.vmIndex = index;
            this.vmCount = count;
            return this;
        }

        /**
         * Gives the VM an in-kernel irqchip (PIC, IOAPIC, local APIC) and PIT (default: none).
         *
         * @param v whether to
         * @return this builder
         */
        public Builder irqchip(boolean v) { this.irqchip = v; return this; }

        /**
         * Gives the VM {@code v} vCPUs (default 1). Each enters the image at its entry point with
         * its own stack and its index in its boot info (see {@link BootSetup#longMode}); SMP
         * guests boot in long mode only.
         *
         * @param v 1 to {@link BootInfo#MAX_CPUS}
         * @return this builder
         * @throws IllegalArgumentException for any other count
         */
        public Builder cpus(int v) {
            if (v < 1 || v > BootInfo.MAX_CPUS) {
                throw new IllegalArgumentException("a guest has 1 to " + BootInfo.MAX_CPUS + " vCPUs, got " + v);
            }
            this.cpus = v;
            return this;
        }

        /**
         * {@return the configuration as set so far; the builder may go on to make others}
         *
         * @throws IllegalArgumentException for more than one vCPU in real mode
         */
        public GuestConfig build() {
            if (cpus > 1 && mode == CpuMode.REAL) {
                throw new IllegalArgumentException("SMP guests boot in long mode only; a real-mode guest has one vCPU, not " + cpus);
            }
            return new GuestConfig(this);
        }
    }
}
