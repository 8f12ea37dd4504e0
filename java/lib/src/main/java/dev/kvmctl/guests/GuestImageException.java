package dev.kvmctl.guests;

/**
 * A guest image that cannot be loaded: truncated, malformed, for another machine, or too large
 * for the guest's memory. The message names the image and the problem.
 */
public final class GuestImageException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /**
     * An image that cannot be loaded.
     *
     * @param message names the image and says what is wrong with it and, where it can, what to do
     */
    public GuestImageException(String message) {
        super(message);
    }
}
