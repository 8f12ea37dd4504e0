package dev.kvmctl.state;

/**
 * The result of {@code KVM_TRANSLATE}: where a guest-virtual address maps in guest-physical
 * memory under the vCPU's current page tables.
 *
 * <pre>{@code
 * Translation t = vcpu.translate(0x400000);
 * if (t.valid()) System.out.printf("%x%n", t.physicalAddress());
 * }</pre>
 *
 * @param linearAddress the guest-virtual (linear) address translated
 * @param physicalAddress the guest-physical address it maps to; meaningless unless {@code valid}
 * @param valid whether the address is mapped
 * @param writeable whether the mapping allows writes
 * @param usermode whether the mapping allows user-mode (ring 3) access
 */
public record Translation(long linearAddress, long physicalAddress, boolean valid, boolean writeable,
                          boolean usermode) {}
