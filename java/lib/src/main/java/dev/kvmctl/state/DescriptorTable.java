package dev.kvmctl.state;

/**
 * A descriptor-table register (GDTR or IDTR): {@code struct kvm_dtable}.
 *
 * <pre>{@code
 * sregs.gdt(new DescriptorTable(0x500, 5 * 8 - 1));
 * }</pre>
 */
public record DescriptorTable(long base, int limit) {
    @Override
    public String toString() {
        return String.format("base=%016x limit=%04x", base, limit);
    }
}
