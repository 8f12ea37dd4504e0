package dev.kvmctl.guests.devices;

import java.util.Map;
import java.util.TreeMap;

/**
 * Dispatches MMIO exits to devices by address range. Unclaimed reads return all ones and
 * unclaimed writes are ignored; both are counted.
 *
 * <pre>{@code
 * MmioBus bus = new MmioBus();
 * bus.register(0xfee00000L, 0x1000, device);
 * long v = bus.read(0xfee00020L, 4);
 * }</pre>
 */
public final class MmioBus {
    private record Range(long base, long size, MmioDevice device) {}

    private final TreeMap<Long, Range> ranges = new TreeMap<>();
    private final UnclaimedAccesses unclaimed = new UnclaimedAccesses();

    public void register(long base, long size, MmioDevice device) {
        if (size <= 0 || base + size < base) {
            throw new IllegalArgumentException(String.format("bad MMIO range 0x%x+0x%x", base, size));
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(base + size - 1);
        if (below != null && below.getValue().base() + below.getValue().size() > base) {
            throw new IllegalArgumentException(String.format("MMIO range 0x%x+0x%x overlaps one at 0x%x", base, size, below.getKey()));
        }
        ranges.put(base, new Range(base, size, device));
    }

    public void write(long address, int size, long value) {
        Range r = find(address);
        if (r == null) {
            unclaimed.write();
        } else {
            r.device().write(address - r.base(), size, value);
        }
    }

    public long read(long address, int size) {
        Range r = find(address);
        if (r == null) {
            unclaimed.read();
            return -1L;
        }
        return r.device().read(address - r.base(), size);
    }

    private Range find(long address) {
        Map.Entry<Long, Range> e = ranges.floorEntry(address);
        if (e == null) {
            return null;
        }
        Range r = e.getValue();
        return address - r.base() < r.size() ? r : null;
    }

    /** The accesses no device claimed. */
    public UnclaimedAccesses unclaimed() {
        return unclaimed;
    }
}
