package dev.kvmctl.state;

/**
 * A descriptor-table register (GDTR or IDTR): {@code struct kvm_dtable}.
 *
 * <pre>{@code
 * SRegs sregs = vcpu.getSregs();
 * vcpu.setSregs(sregs.gdt(new DescriptorTable(0x500, 5 * 8 - 1)));   // 5 descriptors at 0x500
 * }</pre>
 *
 * @param base the table's guest-virtual address
 * @param limit the offset of its last byte: its size in bytes minus 1, 0 to 0xffff
 */
public record DescriptorTable(long base, int limit) {
    @Override
    public String toString() {
        return String.format("base=%016x limit=%04x", base, limit);
    }
}
