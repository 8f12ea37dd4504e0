package dev.kvmctl.guests.devices;

import com.google.common.collect.Range;
import com.google.common.collect.RangeMap;
import com.google.common.collect.TreeRangeMap;
import java.util.Arrays;
import java.util.Map;

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
    /** Who claims which addresses: what a new range is checked against. */
    private final RangeMap<Long, MmioDevice> claims = TreeRangeMap.create();
    /**
     * The same ranges as sorted primitive arrays, rebuilt on each register: every MMIO exit looks
     * its address up here. {@code RangeMap.get} boxes the address and makes a bound object per
     * call, garbage until the JIT removes it; a binary search over {@code long[]} makes none.
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
        Range<Long> range = Range.closedOpen(base, base + size);
        Map<Range<Long>, MmioDevice> overlaps = claims.subRangeMap(range).asMapOfRanges();
        if (!overlaps.isEmpty()) {
            Map.Entry<Range<Long>, MmioDevice> first = overlaps.entrySet().iterator().next();
            throw new IllegalArgumentException(String.format("MMIO range 0x%x+0x%x overlaps 0x%x+0x%x, claimed by %s",
                    base, size, first.getKey().lowerEndpoint(), first.getKey().upperEndpoint() - first.getKey().lowerEndpoint(),
                    first.getValue()));
        }
        claims.put(range, device);
        Map<Range<Long>, MmioDevice> all = claims.asMapOfRanges();
        long[] bases = new long[all.size()];
        long[] ends = new long[all.size()];
        MmioDevice[] devices = new MmioDevice[all.size()];
        int i = 0;
        for (Map.Entry<Range<Long>, MmioDevice> e : all.entrySet()) {
            bases[i] = e.getKey().lowerEndpoint();
            ends[i] = e.getKey().upperEndpoint();
            devices[i++] = e.getValue();
        }
        table = new Table(bases, ends, devices);
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
