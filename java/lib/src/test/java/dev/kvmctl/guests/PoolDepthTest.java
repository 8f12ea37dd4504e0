package dev.kvmctl.guests;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** How many VMs a pool keeps prepared for one machine, as switch-ins find them ready or not. */
class PoolDepthTest {
    @Test
    void startsAtOneAndGrowsByOnePerMissUpToTheMaximum() {
        PoolDepth d = new PoolDepth(3);
        assertEquals(1, d.target());
        d.onTake(0);
        assertEquals(2, d.target(), "a switch-in found none ready");
        d.onTake(0);
        d.onTake(0);
        d.onTake(0);
        assertEquals(3, d.target(), "never beyond the maximum");
    }

    @Test
    void shrinksByOneAfterTakesInARowThatEachFoundASpare() {
        PoolDepth d = new PoolDepth(4);
        d.onTake(0);
        d.onTake(0);
        assertEquals(3, d.target());
        for (int i = 1; i < PoolDepth.SHRINK_AFTER; i++) {
            d.onTake(2);
        }
        assertEquals(3, d.target(), "one take short of the run");
        d.onTake(3);
        assertEquals(2, d.target(), "VMs that only waited are not kept");
        for (int i = 0; i < 10 * PoolDepth.SHRINK_AFTER; i++) {
            d.onTake(2);
        }
        assertEquals(1, d.target(), "never below one");
    }

    @Test
    void aTakeWithJustEnoughOrAMissRestartsTheRun() {
        PoolDepth d = new PoolDepth(4);
        d.onTake(0);
        assertEquals(2, d.target());
        for (int i = 1; i < PoolDepth.SHRINK_AFTER; i++) {
            d.onTake(2);
        }
        d.onTake(1); // exactly one ready: the depth was needed
        for (int i = 1; i < PoolDepth.SHRINK_AFTER; i++) {
            d.onTake(2);
        }
        assertEquals(2, d.target(), "the run of spares started again");
        d.onTake(0);
        assertEquals(3, d.target());
        for (int i = 1; i < PoolDepth.SHRINK_AFTER; i++) {
            d.onTake(2);
        }
        assertEquals(3, d.target(), "a miss restarts the run too");
    }

    @Test
    void aMaximumBelowOneIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new PoolDepth(0));
        assertEquals("a pool keeps at least one VM per machine, not 0", e.getMessage());
    }
}
