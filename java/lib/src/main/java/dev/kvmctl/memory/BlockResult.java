package dev.kvmctl.memory;

/**
 * The answer to {@link BlockAllocator#free(int, long)} and {@link BlockAllocator#transfer(int, long, int)}:
 * either {@link Done} or {@link Refused}.
 *
 * <p>A refusal never changes the allocator, so a confused or hostile guest that frees the wrong
 * address cannot corrupt another VM's blocks:
 *
 * <pre>{@code
 * int owner = 0;                  // the VM that asks
 * long offset = 4096;             // the block it names, as it gave it
 * BlockResult r = allocator.free(owner, offset);
 * if (r instanceof BlockResult.Refused no) {
 *     System.err.println("refused, nothing changed: " + no.message());
 * }
 * }</pre>
 */
public sealed interface BlockResult permits BlockResult.Done, BlockResult.Refused {

    /** {@return whether this is a {@link Done}: the free or transfer took place} */
    boolean isDone();

    /**
     * The operation took place.
     *
     * @param offset the block's start, as given
     * @param size the block's size in bytes
     */
    record Done(long offset, long size) implements BlockResult {
        @Override
        public boolean isDone() {
            return true;
        }
    }

    /**
     * Nothing changed.
     *
     * @param reason why
     * @param offset the offset that was given
     * @param actualOwner the block's real owner for {@link Reason#WRONG_OWNER}, otherwise -1
     */
    record Refused(Reason reason, long offset, int actualOwner) implements BlockResult {
        /**
         * Checks that {@code reason} is present.
         *
         * @param reason why
         * @param offset the offset that was given
         * @param actualOwner the block's real owner for {@link Reason#WRONG_OWNER}, otherwise -1
         */
        public Refused {
            java.util.Objects.requireNonNull(reason, "reason");
        }

        @Override
        public boolean isDone() {
            return false;
        }

        /** {@return a one-line explanation for logs and error messages, naming the offset} */
        public String message() {
            return switch (reason) {
                case NOT_A_BLOCK_START -> "offset " + offset + " is not the start of a block";
                case NOT_IN_USE -> "the block at offset " + offset + " is idle (already freed?)";
                case WRONG_OWNER -> "the block at offset " + offset + " belongs to owner " + actualOwner;
            };
        }
    }

    /** Why a free or transfer was refused. */
    enum Reason {
        /** No block starts at the offset (inside a block, misaligned, or outside the region). */
        NOT_A_BLOCK_START,
        /** The block at the offset is idle: a double free, or a transfer of a freed block. */
        NOT_IN_USE,
        /** The block is in use by a different owner than the caller claimed. */
        WRONG_OWNER
    }
}
