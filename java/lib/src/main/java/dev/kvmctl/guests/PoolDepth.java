package dev.kvmctl.guests;

/**
 * How many VMs a {@link VmPool} keeps prepared for one machine: one to start with; one more each
 * time a switch-in finds none ready (the preparer fell behind the switch rate), up to a maximum;
 * one fewer after {@link #SHRINK_AFTER} switch-ins in a row that each found more than one ready
 * (the extra ones only waited). Pure logic, one per machine, guarded by the pool's lock.
 */
final class PoolDepth {
    /** Switch-ins in a row that found a spare VM before the depth drops by one. */
    static final int SHRINK_AFTER = 16;

    private final int max;
    private int target = 1;
    private int spareTakes;

    /**
     * A depth of one that may grow to {@code max}.
     *
     * @param max the most VMs to keep prepared for the machine, at least 1
     */
    PoolDepth(int max) {
        if (max < 1) {
            throw new IllegalArgumentException("a pool keeps at least one VM per machine, not " + max);
        }
        this.max = max;
    }

    /**
     * A switch-in is taking a VM.
     *
     * @param ready how many were ready, before it takes one
     */
    void onTake(int ready) {
        if (ready == 0) {
            target = Math.min(max, target + 1);
            spareTakes = 0;
        } else if (ready > 1 && ++spareTakes >= SHRINK_AFTER) {
            target = Math.max(1, target - 1);
            spareTakes = 0;
        } else if (ready == 1) {
            spareTakes = 0;
        }
    }

    /** {@return how many VMs to keep prepared now, 1 to the maximum} */
    int target() {
        return target;
    }
}
