package dev.kvmctl.state;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/**
 * Indexed register accessors refuse an index outside the register file instead of reading or
 * writing a neighbouring field of the struct. Needs the native layout table, not KVM.
 */
class RegisterIndexTest {
    @Test
    void xmmIndexesOutsideZeroToFifteenAreRefused() {
        Fpu fpu = new Fpu();
        assertEquals(0, fpu.xmmLow(15));
        assertThrows(IndexOutOfBoundsException.class, () -> fpu.xmmLow(16));
        assertThrows(IndexOutOfBoundsException.class, () -> fpu.xmmHigh(-1));
        Xsave xsave = new Xsave(4096);
        assertEquals(0, xsave.xmmHigh(15));
        assertThrows(IndexOutOfBoundsException.class, () -> xsave.xmmLow(16));
        assertThrows(IndexOutOfBoundsException.class, () -> xsave.xmmHigh(-1));
    }

    @Test
    void debugRegisterIndexesOutsideZeroToSevenAreRefused() {
        GuestDebug debug = new GuestDebug();
        debug.debugReg(7, 0x400);
        assertEquals(0x400, debug.debugReg(7));
        assertThrows(IndexOutOfBoundsException.class, () -> debug.debugReg(8));
        assertThrows(IndexOutOfBoundsException.class, () -> debug.debugReg(-1, 1));
        assertThrows(IndexOutOfBoundsException.class, () -> debug.debugReg(8, 1));
    }

    @Test
    void xcrEntriesPastTheStructAreRefused() {
        Xcrs xcrs = new Xcrs().xcr0(3);
        assertEquals(0, xcrs.xcr(0));
        assertEquals(3, xcrs.value(0));
        assertThrows(IndexOutOfBoundsException.class, () -> xcrs.value(-1));
        assertThrows(IndexOutOfBoundsException.class, () -> xcrs.xcr(1 << 20));
    }
}
