package dev.kvmctl.guests;

/**
 * The mode a guest starts in.
 *
 * <pre>{@code
 * GuestConfig config = GuestConfig.builder(image).mode(CpuMode.LONG).ring(3).build();
 * }</pre>
 */
public enum CpuMode {
    /** 16-bit real mode, CS base 0. */
    REAL,
    /** 64-bit long mode with kvmctl's identity paging. */
    LONG;

    /** {@return the default flat-image load address and entry: 0x7c00 in real mode, 0x100000 in long mode} */
    public long defaultLoadAddress() {
        return this == REAL ? 0x7c00 : 0x100000;
    }
}
