/* VM ioctls about guest memory beyond KVM_SET_USER_MEMORY_REGION: regions with a guest_memfd,
 * memory attributes, dirty tracking (manual clear, dirty rings) and coalesced MMIO/PIO zones. */
#include "shim.h"

int kvmctl_set_user_memory_region2(int vm, uint32_t slot, uint32_t flags,
                                   uint64_t guest_phys_addr, uint64_t memory_size,
                                   uint64_t userspace_addr, uint64_t guest_memfd_offset,
                                   uint32_t guest_memfd)
{
    struct kvm_userspace_memory_region2 region = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = guest_phys_addr,
        .memory_size = memory_size,
        .userspace_addr = userspace_addr,
        .guest_memfd_offset = guest_memfd_offset,
        .guest_memfd = guest_memfd,
    };
    return KVMCTL_IOCTL(vm, KVM_SET_USER_MEMORY_REGION2, &region);
}

int kvmctl_create_guest_memfd(int vm, uint64_t size, uint64_t flags)
{
    struct kvm_create_guest_memfd create = { .size = size, .flags = flags };
    return KVMCTL_IOCTL(vm, KVM_CREATE_GUEST_MEMFD, &create);
}

int kvmctl_set_memory_attributes(int vm, uint64_t address, uint64_t size, uint64_t attributes,
                                 uint64_t flags)
{
    struct kvm_memory_attributes attrs = {
        .address = address, .size = size, .attributes = attributes, .flags = flags,
    };
    return KVMCTL_IOCTL(vm, KVM_SET_MEMORY_ATTRIBUTES, &attrs);
}

int kvmctl_clear_dirty_log(int vm, uint32_t slot, uint64_t first_page, uint32_t num_pages,
                           void *bitmap)
{
    struct kvm_clear_dirty_log clear = {
        .slot = slot, .num_pages = num_pages, .first_page = first_page, .dirty_bitmap = bitmap,
    };
    return KVMCTL_IOCTL(vm, KVM_CLEAR_DIRTY_LOG, &clear);
}

int kvmctl_reset_dirty_rings(int vm) { return KVMCTL_IOCTL(vm, KVM_RESET_DIRTY_RINGS, 0); }

static int kvmctl_coalesced(int vm, unsigned long request, uint64_t addr, uint32_t size, uint32_t pio)
{
    struct kvm_coalesced_mmio_zone zone = { .addr = addr, .size = size, .pio = pio };
    return KVMCTL_IOCTL(vm, request, &zone);
}

int kvmctl_register_coalesced_mmio(int vm, uint64_t addr, uint32_t size, uint32_t pio)
{
    return kvmctl_coalesced(vm, KVM_REGISTER_COALESCED_MMIO, addr, size, pio);
}

int kvmctl_unregister_coalesced_mmio(int vm, uint64_t addr, uint32_t size, uint32_t pio)
{
    return kvmctl_coalesced(vm, KVM_UNREGISTER_COALESCED_MMIO, addr, size, pio);
}
