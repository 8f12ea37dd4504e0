package dev.kvmctl.contexts;

/**
 * A context or snapshot that cannot be used: no such file, truncated, corrupted, of another format version, or
 * taken from a machine that does not match. Thrown before anything is restored.
 */
public final class ContextFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * A context or snapshot that cannot be used.
     *
     * @param message names the file or part and says what is wrong with it
     */
    public ContextFormatException(String message) {
        super(message);
    }
}
