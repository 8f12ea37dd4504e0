package dev.kvmctl;

import dev.kvmctl.internal.bridge.Layout;
import dev.kvmctl.internal.bridge.Memory;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * An MSR filter for {@link Vm#setMsrFilter(MsrFilter)} ({@code KVM_X86_SET_MSR_FILTER}): which
 * guest {@code rdmsr}/{@code wrmsr} KVM handles and which it refuses. With
 * {@code KVM_CAP_X86_USER_SPACE_MSR} enabled for {@code KVM_MSR_EXIT_REASON_FILTER}, a refused
 * access exits to user space as {@link VmExit.MsrRead} or {@link VmExit.MsrWrite} instead of
 * raising #GP in the guest.
 *
 * <pre>{@code
 * BitSet allowed = new BitSet();            // bit i: MSR base + i; clear = filtered
 * vm.setMsrFilter(MsrFilter.allowByDefault().range(MsrFilter.READ | MsrFilter.WRITE, 0x474f4f00, 1, allowed));
 * }</pre>
 */
public final class MsrFilter {
    /** The range applies to {@code rdmsr}. */
    public static final int READ = Layout.intValue("KVM_MSR_FILTER_READ");
    /** The range applies to {@code wrmsr}. */
    public static final int WRITE = Layout.intValue("KVM_MSR_FILTER_WRITE");
    /** The most ranges one filter may have ({@code KVM_MSR_FILTER_MAX_RANGES}). */
    public static final int MAX_RANGES = Layout.intValue("KVM_MSR_FILTER_MAX_RANGES");
    private static final int DEFAULT_DENY = Layout.intValue("KVM_MSR_FILTER_DEFAULT_DENY");

    private static final int SIZE = Layout.sizeOf("kvm_msr_filter");
    private static final int FLAGS = Layout.offsetOf("kvm_msr_filter", "flags");
    private static final int RANGES = Layout.offsetOf("kvm_msr_filter", "ranges");
    private static final int RANGE = Layout.sizeOf("kvm_msr_filter_range");
    private static final int R_FLAGS = Layout.offsetOf("kvm_msr_filter_range", "flags");
    private static final int R_NMSRS = Layout.offsetOf("kvm_msr_filter_range", "nmsrs");
    private static final int R_BASE = Layout.offsetOf("kvm_msr_filter_range", "base");
    private static final int R_BITMAP = Layout.offsetOf("kvm_msr_filter_range", "bitmap");

    private record Range(int flags, int base, int nmsrs, BitSet allowed) {}

    private final boolean denyByDefault;
    private final List<Range> ranges = new ArrayList<>();

    private MsrFilter(boolean denyByDefault) {
        this.denyByDefault = denyByDefault;
    }

    /** {@return a filter that allows every MSR no range mentions; with no ranges, it removes filtering} */
    public static MsrFilter allowByDefault() {
        return new MsrFilter(false);
    }

    /** {@return a filter that refuses every MSR no range allows} */
    public static MsrFilter denyByDefault() {
        return new MsrFilter(true);
    }

    /**
     * Adds a range of {@code nmsrs} MSRs from {@code base}, where bit {@code i} of {@code allowed}
     * allows MSR {@code base + i} and a clear bit refuses it.
     *
     * @param flags {@link #READ}, {@link #WRITE} or both
     * @param base the first MSR index
     * @param nmsrs how many MSRs, at least 1
     * @param allowed the bitmap (copied)
     * @return this filter
     * @throws IllegalArgumentException for flags other than READ/WRITE, {@code nmsrs < 1}, or more
     *     than {@link #MAX_RANGES} ranges
     */
    public MsrFilter range(int flags, int base, int nmsrs, BitSet allowed) {
        if (flags == 0 || (flags & ~(READ | WRITE)) != 0) {
            throw new IllegalArgumentException("MSR filter range flags must be READ, WRITE or both, got " + flags);
        }
        if (nmsrs < 1) {
            throw new IllegalArgumentException("an MSR filter range needs at least one MSR, got " + nmsrs);
        }
        if (ranges.size() == MAX_RANGES) {
            throw new IllegalArgumentException("an MSR filter has at most " + MAX_RANGES + " ranges");
        }
        ranges.add(new Range(flags, base, nmsrs, (BitSet) allowed.clone()));
        return this;
    }

    /**
     * The filter as {@code struct kvm_msr_filter} followed by its bitmaps, in one new direct
     * buffer whose ranges point into itself: keep it reachable until the ioctl returns.
     */
    ByteBuffer toStruct() {
        int bitmaps = 0;
        for (Range r : ranges) {
            bitmaps += bitmapBytes(r.nmsrs);
        }
        ByteBuffer b = Memory.allocate(SIZE + bitmaps);
        long address = Memory.addressOf(b);
        b.putInt(FLAGS, denyByDefault ? DEFAULT_DENY : 0);
        int bitmapAt = SIZE;
        for (int i = 0; i < ranges.size(); i++) {
            Range r = ranges.get(i);
            int at = RANGES + i * RANGE;
            b.putInt(at + R_FLAGS, r.flags);
            b.putInt(at + R_NMSRS, r.nmsrs);
            b.putInt(at + R_BASE, r.base);
            b.putLong(at + R_BITMAP, address + bitmapAt);
            byte[] bits = r.allowed.toByteArray();
            for (int j = 0; j < Math.min(bits.length, bitmapBytes(r.nmsrs)); j++) {
                b.put(bitmapAt + j, bits[j]);
            }
            bitmapAt += bitmapBytes(r.nmsrs);
        }
        return b;
    }

    /** Whole 64-bit words, as the kernel reads them. */
    private static int bitmapBytes(int nmsrs) {
        return (nmsrs + 63) / 64 * 8;
    }

    @Override
    public String toString() {
        return "MsrFilter[" + (denyByDefault ? "deny" : "allow") + " by default, " + ranges.size() + " ranges]";
    }
}
