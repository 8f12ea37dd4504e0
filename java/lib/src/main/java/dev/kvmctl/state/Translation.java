package dev.kvmctl.state;

/**
 * The result of {@code KVM_TRANSLATE}: where a guest-virtual address maps in guest-physical
 * memory under the vCPU's current page tables.
 *
 * <pre>{@code
 * Translation t = vcpu.translate(0x400000);
 * if (t.valid()) System.out.printf("%x%n", t.physicalAddress());
 * }</pre>
 */
public record Translation(long linearAddress, long physicalAddress, boolean valid, boolean writeable,
                          boolean usermode) {}
