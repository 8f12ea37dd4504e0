package dev.kvmctl.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/** The struct views that need the native layout table but not KVM. */
class StructViewsTest {
    @Test
    void redirectionEntryBitsAreTheIoapicsArchitecturalFormat() {
        // vector 0x31, delivery mode 1 (lowest priority), logical, pending, active low, remote IRR,
        // level, masked, destination 0x0f: bits 0-7, 8-10, 11, 12, 13, 14, 15, 16, 56-63
        long bits = 0x31L | 1L << 8 | 1L << 11 | 1L << 12 | 1L << 13 | 1L << 14 | 1L << 15 | 1L << 16 | 0x0fL << 56;
        Irqchip.Redirection r = Irqchip.Redirection.of(bits);
        assertEquals(new Irqchip.Redirection(0x31, 1, true, true, true, true, true, true, 0x0f), r);
        assertEquals(bits, r.bits());
        assertEquals(0x00000000_0001_0000L, Irqchip.Redirection.of(0).withMasked(true).bits());
        assertEquals(0xffL << 56, Irqchip.Redirection.of(0).withDestination(0xff).bits());
        assertEquals(0L, Irqchip.Redirection.of(1L << 20).bits(), "reserved bits are dropped");
    }

    @Test
    void irqchipRefusesTheOtherChipsFields() {
        Irqchip ioapic = new Irqchip(Irqchip.IOAPIC);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ioapic.pic(Irqchip.PicField.IMR));
        assertTrue(e.getMessage().contains("IOAPIC"), e.getMessage());
        Irqchip pic = new Irqchip(Irqchip.PIC_SLAVE);
        assertThrows(IllegalStateException.class, pic::ioapicBase);
        assertThrows(IllegalStateException.class, () -> pic.redirection(0));
        assertThrows(IndexOutOfBoundsException.class, () -> ioapic.redirection(Irqchip.IOAPIC_PINS));
        assertThrows(IllegalArgumentException.class, () -> new Irqchip(7));
    }

    @Test
    void picFieldsAreDistinctBytes() {
        Irqchip pic = new Irqchip(Irqchip.PIC_MASTER);
        Irqchip.PicField[] fields = Irqchip.PicField.values();
        for (int i = 0; i < fields.length; i++) {
            pic.pic(fields[i], i + 1);
        }
        for (int i = 0; i < fields.length; i++) {
            assertEquals(i + 1, pic.pic(fields[i]), fields[i].name());
        }
        assertEquals(Irqchip.PIC_MASTER, pic.chipId(), "the fields sit past the chip id");
    }

    @Test
    void pitChannelFieldsAreDistinct() {
        PitState pit = new PitState();
        PitState.ChannelField[] fields = PitState.ChannelField.values();
        for (int c = 0; c < PitState.CHANNEL_COUNT; c++) {
            for (int i = 0; i < fields.length; i++) {
                pit.channel(c, fields[i], 16 * c + i + 1);
            }
        }
        for (int c = 0; c < PitState.CHANNEL_COUNT; c++) {
            for (int i = 0; i < fields.length; i++) {
                assertEquals(16 * c + i + 1, pit.channel(c, fields[i]), "channel " + c + " " + fields[i]);
            }
        }
        assertEquals(0, pit.flags());
        assertEquals(-5, pit.channel(0, PitState.ChannelField.COUNT_LOAD_TIME, -5).channel(0, PitState.ChannelField.COUNT_LOAD_TIME));
    }

    @Test
    void segmentWithMethodsReplaceOneComponent() {
        Segment s = Segment.code64(0x08, 0);
        assertEquals(0x1000, s.withBase(0x1000).base());
        assertEquals(0xfff, s.withLimit(0xfff).limit());
        assertEquals(0x10, s.withSelector(0x10).selector());
        assertEquals(0x3, s.withType(0x3).type());
        assertEquals(false, s.withPresent(false).present());
        assertEquals(3, s.withDpl(3).dpl());
        assertEquals(true, s.withDb(true).db());
        assertEquals(false, s.withS(false).s());
        assertEquals(false, s.withL(false).l());
        assertEquals(false, s.withG(false).g());
        assertEquals(true, s.withAvl(true).avl());
        assertEquals(true, s.withUnusable(true).unusable());
        assertEquals(s, s.withDpl(3).withDpl(0), "the other components are kept");
        assertEquals(Segment.data(0x10, 3), Segment.data(0x18, 0).withSelector(0x10).withDpl(3));
    }
}
