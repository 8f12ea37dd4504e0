package dev.kvmctl.guests.devices;

import java.util.Arrays;

/**
 * Dispatches MMIO exits to devices by address range. Unclaimed reads return all ones and
 * unclaimed writes are ignored; both are counted. A lookup is a binary search over primitive
 * arrays and allocates nothing; registering is meant for set-up, before the guest runs.
 *
 * <pre>{@code
 * MmioBus bus = new MmioBus();
 * bus.register(0xd0000000L, 0x1000, new MmioDevice() {
 *     public void write(long offset, int size, long value) { }
 *     public long read(long offset, int size) { return offset; }
 * });
 * long v = bus.read(0xd0000020L, 4);      // 0x20: the offset into the device's range
 * }</pre>
 */
public final class MmioBus {
    /**
     * The claimed ranges, sorted and disjoint, as primitive arrays, rebuilt on each register:
     * every MMIO exit looks its address up here with a binary search, which boxes nothing and
     * makes no object, and a new range is checked against it.
     */
    private volatile Table table = new Table(new long[0], new long[0], new MmioDevice[0]);
    private final UnclaimedAccesses unclaimed = new UnclaimedAccesses();

    private record Table(long[] bases, long[] ends, MmioDevice[] devices) {
        /** The index of the range holding {@code address}, or -1. */
        int find(long address) {
            int i = Arrays.binarySearch(bases, address);
            if (i < 0) {
                i = -i - 2; // the last range starting below the address
            }
            return i >= 0 && address < ends[i] ? i : -1;
        }
    }

    /**
     * Claims {@code [base, base+size)} for {@code device}. The range must not be RAM in the VM
     * (a memory slot): only accesses to unbacked addresses exit to the bus.
     *
     * @param base the first guest-physical address
     * @param size bytes, positive
     * @param device what the accesses go to, with offsets relative to {@code base}
     * @throws IllegalArgumentException for an empty or wrapping range, or one that overlaps a
     *     range already claimed (the message names its device)
     */
    public synchronized void register(long base, long size, MmioDevice device) {
        if (size <= 0 || base + size < base) {
            throw new IllegalArgumentException(String.format("bad MMIO range 0x%x+0x%x", base, size));
        }
        Table t = table;
        int n = t.bases().length;
        int at = 0; // the first range that ends above base: the first that may overlap
        while (at < n && t.ends()[at] <= base) { // set-up only, over a handful of ranges
            at++;
        }
        if (at < n && t.bases()[at] < base + size) {
            throw new IllegalArgumentException(String.format("MMIO range 0x%x+0x%x overlaps 0x%x+0x%x, claimed by %s",
                    base, size, t.bases()[at], t.ends()[at] - t.bases()[at], t.devices()[at]));
        }
        long[] bases = insert(t.bases(), at, base);
        long[] ends = insert(t.ends(), at, base + size);
        MmioDevice[] devices = Arrays.copyOf(t.devices(), n + 1);
        System.arraycopy(t.devices(), at, devices, at + 1, n - at);
        devices[at] = device;
        table = new Table(bases, ends, devices);
    }

    private static long[] insert(long[] values, int at, long value) {
        long[] out = Arrays.copyOf(values, values.length + 1);
        System.arraycopy(values, at, out, at + 1, values.length - at);
        out[at] = value;
        return out;
    }

    /**
     * Hands a guest write to the device claiming {@code address}, or counts it as unclaimed.
     *
     * @param address the guest-physical address written
     * @param size bytes written: 1, 2, 4 or 8
     * @param value the bytes, little-endian in the low {@code size} bytes
     */
    public void write(long address, int size, long value) {
        Table t = table;
        int i = t.find(address);
        if (i < 0) {
            unclaimed.write();
        } else {
            t.devices()[i].write(address - t.bases()[i], size, value);
        }
    }

    /**
     * Asks the device claiming {@code address} for a guest read.
     *
     * @param address the guest-physical address read
     * @param size bytes read: 1, 2, 4 or 8
     * @return the device's answer (the guest sees its low {@code size} bytes), or all ones when
     *     no device claims the address
     */
    public long read(long address, int size) {
        Table t = table;
        int i = t.find(address);
        if (i < 0) {
            unclaimed.read();
            return -1L;
        }
        return t.devices()[i].read(address - t.bases()[i], size);
    }

    /** {@return the counters of accesses no device claimed, live} */
    public UnclaimedAccesses unclaimed() {
        return unclaimed;
    }
}
