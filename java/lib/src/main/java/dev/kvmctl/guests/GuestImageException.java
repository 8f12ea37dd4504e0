package dev.kvmctl.guests;

/**
 * A guest image that cannot be loaded: truncated, malformed, for another machine, or too large
 * for the guest's memory. The message names the image and the problem.
 */
public final class GuestImageException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public GuestImageException(String message) {
        super(message);
    }
}
