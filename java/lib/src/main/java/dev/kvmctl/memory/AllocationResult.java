package dev.kvmctl.memory;

/**
 * The answer to {@link BlockAllocator#allocate(int, long)}: either {@link Allocated} or {@link Refused}.
 *
 * <p>A refusal is an expected outcome (a guest asked for too much, the region is full), so it is a
 * value to inspect rather than an exception:
 *
 * <pre>{@code
 * int owner = 0;                                   // who will hold the block: a VM's index, say
 * AllocationResult r = allocator.allocate(owner, 4000);
 * if (r instanceof AllocationResult.Allocated a) {
 *     System.out.printf("%d bytes at offset %d of the region%n", a.size(), a.offset());
 * } else if (r instanceof AllocationResult.Refused no) {
 *     System.err.println(no.message());            // nothing was allocated, nothing changed
 * }
 * }</pre>
 */
public sealed interface AllocationResult permits AllocationResult.Allocated, AllocationResult.Refused {

    /** {@return whether this is an {@link Allocated}: a block now belongs to the requesting owner}
     */
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
        /**
         * Checks that {@code reason} is present.
         *
         * @param reason why
         * @param requested the number of bytes asked for, as given
         * @param largestIdle the largest idle block at the time, in bytes
         */
        public Refused {
            java.util.Objects.requireNonNull(reason, "reason");
        }

        @Override
        public boolean isAllocated() {
            return false;
        }

        /**
         * {@return a one-line explanation for logs and error messages, with the numbers that
         * matter: what was asked for and, when nothing was large enough, the largest idle block}
         */
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
