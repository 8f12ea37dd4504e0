/* VM ioctls: issued on a VM file descriptor. */
#include "shim.h"

int kvmctl_create_vcpu(int vm, uint64_t id) { return KVMCTL_IOCTL(vm, KVM_CREATE_VCPU, id); }

int kvmctl_set_user_memory_region(int vm, uint32_t slot, uint32_t flags,
                                  uint64_t guest_phys_addr, uint64_t memory_size,
                                  uint64_t userspace_addr)
{
    struct kvm_userspace_memory_region region = {
        .slot = slot,
        .flags = flags,
        .guest_phys_addr = guest_phys_addr,
        .memory_size = memory_size,
        .userspace_addr = userspace_addr,
    };
    return KVMCTL_IOCTL(vm, KVM_SET_USER_MEMORY_REGION, &region);
}

int kvmctl_set_tss_addr(int vm, uint64_t addr) { return KVMCTL_IOCTL(vm, KVM_SET_TSS_ADDR, addr); }

int kvmctl_set_identity_map_addr(int vm, uint64_t addr)
{
    /* Unlike KVM_SET_TSS_ADDR, this one takes a pointer to the address. */
    return KVMCTL_IOCTL(vm, KVM_SET_IDENTITY_MAP_ADDR, &addr);
}

int kvmctl_create_irqchip(int vm) { return KVMCTL_IOCTL(vm, KVM_CREATE_IRQCHIP, 0); }
int kvmctl_get_irqchip(int vm, void *irqchip) { return KVMCTL_IOCTL(vm, KVM_GET_IRQCHIP, irqchip); }
int kvmctl_set_irqchip(int vm, void *irqchip) { return KVMCTL_IOCTL(vm, KVM_SET_IRQCHIP, irqchip); }

int kvmctl_create_pit2(int vm, uint32_t flags)
{
    struct kvm_pit_config config = { .flags = flags };
    return KVMCTL_IOCTL(vm, KVM_CREATE_PIT2, &config);
}

int kvmctl_get_pit2(int vm, void *pit_state2) { return KVMCTL_IOCTL(vm, KVM_GET_PIT2, pit_state2); }
int kvmctl_set_pit2(int vm, void *pit_state2) { return KVMCTL_IOCTL(vm, KVM_SET_PIT2, pit_state2); }

int kvmctl_irq_line(int vm, uint32_t irq, uint32_t level)
{
    struct kvm_irq_level line = { .irq = irq, .level = level };
    return KVMCTL_IOCTL(vm, KVM_IRQ_LINE, &line);
}

int kvmctl_ioeventfd(int vm, uint64_t addr, uint32_t len, int fd, uint32_t flags,
                     uint64_t datamatch)
{
    struct kvm_ioeventfd ioeventfd = {
        .datamatch = datamatch,
        .addr = addr,
        .len = len,
        .fd = fd,
        .flags = flags,
    };
    return KVMCTL_IOCTL(vm, KVM_IOEVENTFD, &ioeventfd);
}

int kvmctl_irqfd(int vm, int fd, uint32_t gsi, uint32_t flags, int resamplefd)
{
    struct kvm_irqfd irqfd = {
        .fd = (uint32_t)fd,
        .gsi = gsi,
        .flags = flags,
        .resamplefd = (uint32_t)resamplefd,
    };
    return KVMCTL_IOCTL(vm, KVM_IRQFD, &irqfd);
}

int kvmctl_get_dirty_log(int vm, uint32_t slot, void *bitmap)
{
    struct kvm_dirty_log log = { .slot = slot, .dirty_bitmap = bitmap };
    return KVMCTL_IOCTL(vm, KVM_GET_DIRTY_LOG, &log);
}

int kvmctl_get_clock(int vm, void *clock_data) { return KVMCTL_IOCTL(vm, KVM_GET_CLOCK, clock_data); }
int kvmctl_set_clock(int vm, void *clock_data) { return KVMCTL_IOCTL(vm, KVM_SET_CLOCK, clock_data); }

int kvmctl_enable_cap(int fd, uint32_t cap, uint64_t arg0, uint64_t arg1)
{
    struct kvm_enable_cap enable = { .cap = cap, .args = { arg0, arg1 } };
    return KVMCTL_IOCTL(fd, KVM_ENABLE_CAP, &enable);
}

int kvmctl_set_gsi_routing(int vm, void *routing) { return KVMCTL_IOCTL(vm, KVM_SET_GSI_ROUTING, routing); }

int kvmctl_signal_msi(int vm, uint32_t address_lo, uint32_t address_hi, uint32_t data,
                      uint32_t flags, uint32_t devid)
{
    struct kvm_msi msi = {
        .address_lo = address_lo, .address_hi = address_hi, .data = data,
        .flags = flags, .devid = devid,
    };
    return KVMCTL_IOCTL(vm, KVM_SIGNAL_MSI, &msi);
}

int kvmctl_set_msr_filter(int vm, void *filter) { return KVMCTL_IOCTL(vm, KVM_X86_SET_MSR_FILTER, filter); }

/* Works on VM and vCPU fds alike. */
int kvmctl_get_stats_fd(int fd) { return KVMCTL_IOCTL(fd, KVM_GET_STATS_FD, 0); }
