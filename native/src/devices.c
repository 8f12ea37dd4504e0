/* In-kernel devices (KVM_CREATE_DEVICE) and the attribute calls shared by device and vCPU fds. */
#include "shim.h"

int kvmctl_create_device(int vm, uint32_t type, uint32_t flags)
{
    struct kvm_create_device device = { .type = type, .flags = flags };
    int rc = KVMCTL_IOCTL(vm, KVM_CREATE_DEVICE, &device);
    /* With KVM_CREATE_DEVICE_TEST the kernel only answers whether it could, and makes no fd. */
    return rc < 0 ? rc : (flags & KVM_CREATE_DEVICE_TEST) ? 0 : (int)device.fd;
}

static int kvmctl_device_attr(int fd, unsigned long request, uint32_t flags, uint32_t group,
                              uint64_t attr, uint64_t addr)
{
    struct kvm_device_attr a = { .flags = flags, .group = group, .attr = attr, .addr = addr };
    return KVMCTL_IOCTL(fd, request, &a);
}

int kvmctl_has_device_attr(int fd, uint32_t flags, uint32_t group, uint64_t attr, uint64_t addr)
{
    return kvmctl_device_attr(fd, KVM_HAS_DEVICE_ATTR, flags, group, attr, addr);
}

int kvmctl_get_device_attr(int fd, uint32_t flags, uint32_t group, uint64_t attr, uint64_t addr)
{
    return kvmctl_device_attr(fd, KVM_GET_DEVICE_ATTR, flags, group, attr, addr);
}

int kvmctl_set_device_attr(int fd, uint32_t flags, uint32_t group, uint64_t attr, uint64_t addr)
{
    return kvmctl_device_attr(fd, KVM_SET_DEVICE_ATTR, flags, group, attr, addr);
}
