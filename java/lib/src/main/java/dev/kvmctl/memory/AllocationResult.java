package dev.kvmctl.memory;

/**
 * The answer to {@link BlockAllocator#allocate(int, long)}: either {@link Allocated} or {@link Refused}.
 *
 * <p>A refusal is an expected outcome (a guest asked for too much, the region is full), so it is a
 * value to inspect rather than an exception:
 *
 * <pre>{@code
 * AllocationResult r = allocator.allocate(vm, 4000);
 * if (r instanceof AllocationResult.Allocated a) {
 *     ram.write(a.offset(), payload);
 * } else if (r instanceof AllocationResult.Refused no) {
 *     log.warn(no.message());
 * }
 * }</pre>
 */
public sealed interface AllocationResult permits AllocationResult.Allocated, AllocationResult.Refused {

    /** Whether this is an {@link Allocated}. */
    boolean isAllocated();

    /**
     * A block now in use by the requesting owner.
     *
     * @param offset where the block starts, relative to the region; a multiple of the alignment
     * @param size the block's size: the request rounded up to the alignment
     */
    record Allocated(long offset, long size) implements AllocationResult {
        @Override
        public boolean isAllocated() {
            return true;
        }
    }

    /**
     * Nothing was allocated and the allocator is unchanged.
     *
     * @param reason why
     * @param requested the number of bytes asked for, as given
     * @param largestIdle the largest idle block at the time, in bytes (0 when the region is full)
     */
    record Refused(Reason reason, long requested, long largestIdle) implements AllocationResult {
        /** Checks that {@code reason} is present. */
        public Refused {
            java.util.Objects.requireNonNull(reason, "reason");
        }

        @Override
        public boolean isAllocated() {
            return false;
        }

        /** A one-line explanation for logs and error messages. */
        public String message() {
            return switch (reason) {
                case INVALID_SIZE -> "cannot allocate " + requested + " bytes: the size must be positive";
                case LARGER_THAN_REGION -> "cannot allocate " + requested + " bytes: larger than the whole region";
                case NO_IDLE_BLOCK_LARGE_ENOUGH -> "cannot allocate " + requested
                        + " bytes: no idle block is large enough (largest idle block: " + largestIdle + " bytes)";
            };
        }
    }

    /** Why an allocation was refused. */
    enum Reason {
        /** The request was for zero or a negative number of bytes. */
        INVALID_SIZE,
        /** The request, rounded up to the alignment, is larger than the region itself. */
        LARGER_THAN_REGION,
        /** The request could fit the region, but no idle block is large enough right now. */
        NO_IDLE_BLOCK_LARGE_ENOUGH
    }
}
