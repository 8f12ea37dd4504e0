package dev.kvmctl.guests.devices;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The MMIO and port buses route by range, refuse overlaps naming the claimant, and dispatch without allocating. */
class BusTest {
    /** Records what reached it; reads answer {@code answer + offset}. */
    private static final class Recorder implements MmioDevice, PortDevice {
        final String name;
        final long answer;
        final List<String> seen = new ArrayList<>();

        Recorder(String name, long answer) {
            this.name = name;
            this.answer = answer;
        }

        @Override public void write(long offset, int size, long value) { seen.add("w " + offset + " " + size + " " + value); }
        @Override public long read(long offset, int size) { return answer + offset; }
        @Override public void out(int port, int size, int value) { seen.add("out " + port + " " + size + " " + value); }
        @Override public int in(int port, int size) { return (int) answer + port; }
        @Override public String toString() { return name; }
    }

    /** Adds up what it is given, allocating nothing. */
    private static final class Sink implements MmioDevice, PortDevice {
        long sum;

        @Override public void write(long offset, int size, long value) { sum += offset + value; }
        @Override public long read(long offset, int size) { return offset; }
        @Override public void out(int port, int size, int value) { sum += port + value; }
        @Override public int in(int port, int size) { return port; }
    }

    @Test
    void mmioAccessesReachTheDeviceWhoseRangeHoldsThemAtTheirOffset() {
        MmioBus bus = new MmioBus();
        Recorder lapic = new Recorder("lapic", 1000);
        Recorder low = new Recorder("low", 5000);
        Recorder high = new Recorder("high", 9000);
        bus.register(0xfee00000L, 0x1000, lapic);
        bus.register(0x1000, 0x100, low);
        bus.register(0x1100, 0x100, high);                       // adjacent, not overlapping
        bus.register(0xfffffffffffff000L, 0x1000, new Recorder("top", 0)); // the top of the signed space

        assertEquals(1000 + 0x20, bus.read(0xfee00020L, 4));
        assertEquals(5000, bus.read(0x1000, 1), "first byte of a range");
        assertEquals(5000 + 0xff, bus.read(0x10ff, 1), "last byte of a range");
        assertEquals(9000, bus.read(0x1100, 1), "the next range starts where the last ended");
        bus.write(0xfee00fffL, 1, 7);
        assertEquals(List.of("w 4095 1 7"), lapic.seen);
        assertEquals(0, bus.unclaimed().reads() + bus.unclaimed().writes());

        assertEquals(-1L, bus.read(0xfff, 4), "below every range");
        assertEquals(-1L, bus.read(0x1200, 4), "just past a range");
        assertEquals(-1L, bus.read(0xfee01000L, 4));
        assertEquals(-1L, bus.read(Long.MAX_VALUE, 8), "far above a range");
        bus.write(0, 4, 1);
        assertEquals(4, bus.unclaimed().reads());
        assertEquals(1, bus.unclaimed().writes());
    }

    @Test
    void anOverlappingMmioRangeIsRefusedAndNamesTheClaimant() {
        MmioBus bus = new MmioBus();
        bus.register(0xd0000000L, 0x1000, new Recorder("fb", 0));
        for (long base : new long[] {0xd0000000L, 0xcffff800L, 0xd0000ff8L, 0xcf000000L}) {
            long size = base == 0xcf000000L ? 0x2000000L : 0x1000;
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> bus.register(base, size, new Recorder("other", 0)));
            assertTrue(e.getMessage().contains("claimed by fb"), e.getMessage());
        }
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x1000, 0, new Sink()), "empty");
        assertThrows(IllegalArgumentException.class, () -> bus.register(Long.MAX_VALUE - 10, 0x100, new Sink()), "wraps");
        assertEquals(-1L, bus.read(0xcffff800L, 4), "a refused range claims nothing");
    }

    @Test
    void portsReachTheirDeviceAndOverlapsAreRefused() {
        PortBus bus = new PortBus();
        Recorder serial = new Recorder("serial", 0);
        bus.register(0x3f8, 8, serial);
        bus.register(0x400, 1, new Recorder("next", 0));
        bus.register(0xffff, 1, new Recorder("last", 0));
        bus.out(0x3ff, 1, 'A');
        assertEquals(List.of("out 1023 1 65"), serial.seen);
        assertEquals(0x3f8, bus.in(0x3f8, 1));
        assertEquals(-1, bus.in(0x3f7, 1));
        bus.out(0x3f7, 1, 0);
        assertEquals(1, bus.unclaimed().reads());
        assertEquals(1, bus.unclaimed().writes());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> bus.register(0x3f0, 16, new Sink()));
        assertEquals("port 0x3f8 is already claimed by serial", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bus.register(0xfff0, 0x20, new Sink()), "past 0xffff");
        assertThrows(IllegalArgumentException.class, () -> bus.register(-1, 2, new Sink()));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x500, 0, new Sink()));
        assertEquals(-1, bus.in(0x3f0, 1), "a refused range claims nothing");
    }

    /**
     * The lookups on the exit path use primitive arrays only, so they allocate nothing in any JIT
     * tier (no warm-up needed): 100,000 dispatches on each bus stay within the measurement's slack.
     */
    @Test
    void dispatchAllocatesNothing() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long self = Thread.currentThread().getId();
        MmioBus mmio = new MmioBus();
        PortBus ports = new PortBus();
        Sink sink = new Sink();
        for (int i = 0; i < 8; i++) {
            mmio.register(0xd0000000L + i * 0x10000L, 0x1000, sink);
            ports.register(0x100 + i * 0x10, 8, sink);
        }
        long before = threads.getThreadAllocatedBytes(self);
        long sum = 0;
        for (int i = 0; i < 100_000; i++) {
            long address = 0xd0000000L + (i & 7) * 0x10000L + (i & 0xfff);
            sum += mmio.read(address, 4);
            mmio.write(address, 4, i);
            sum += mmio.read(0x1000 + i, 4); // unclaimed
            sum += ports.in(0x100 + (i & 0x7f), 1);
            ports.out(0x100 + (i & 0x7f), 1, i);
        }
        long allocated = threads.getThreadAllocatedBytes(self) - before;
        assertTrue(sum + sink.sum != 0);
        assertTrue(allocated < 4096, allocated + " bytes allocated over 500,000 dispatches");
    }
}
