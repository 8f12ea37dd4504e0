/*
 * userfaultfd: lazy guest memory. Each function is one system call or ioctl
 * and returns its result or -errno; which to call, and when, is Java's.
 */
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "shim.h"

int kvmctl_userfaultfd(int flags)
{
    return kvmctl_result((int)syscall(SYS_userfaultfd, flags));
}

int kvmctl_userfaultfd_dev(int flags)
{
    int dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
    if (dev < 0) {
        return -errno;
    }
    int fd = ioctl(dev, USERFAULTFD_IOC_NEW, flags);
    int err = errno;
    close(dev);
    return fd < 0 ? -err : fd;
}

int kvmctl_uffdio_api(int uffd, uint64_t features)
{
    struct uffdio_api api;
    memset(&api, 0, sizeof api);
    api.api = UFFD_API;
    api.features = features;
    return KVMCTL_IOCTL(uffd, UFFDIO_API, &api);
}

int kvmctl_uffdio_register(int uffd, uint64_t start, uint64_t len, uint64_t mode)
{
    struct uffdio_register reg;
    memset(&reg, 0, sizeof reg);
    reg.range.start = start;
    reg.range.len = len;
    reg.mode = mode;
    return KVMCTL_IOCTL(uffd, UFFDIO_REGISTER, &reg);
}

/* The bytes copied (all of len unless interrupted), or -errno if none were. */
int64_t kvmctl_uffdio_copy(int uffd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode)
{
    struct uffdio_copy copy;
    memset(&copy, 0, sizeof copy);
    copy.dst = dst;
    copy.src = src;
    copy.len = len;
    copy.mode = mode;
    if (ioctl(uffd, UFFDIO_COPY, &copy) == 0) {
        return (int64_t)len;
    }
    return copy.copy > 0 ? copy.copy : -errno;
}

/* The bytes zero-filled (all of len unless interrupted), or -errno if none were. */
int64_t kvmctl_uffdio_zeropage(int uffd, uint64_t start, uint64_t len, uint64_t mode)
{
    struct uffdio_zeropage zero;
    memset(&zero, 0, sizeof zero);
    zero.range.start = start;
    zero.range.len = len;
    zero.mode = mode;
    if (ioctl(uffd, UFFDIO_ZEROPAGE, &zero) == 0) {
        return (int64_t)len;
    }
    return zero.zeropage > 0 ? zero.zeropage : -errno;
}

int kvmctl_uffdio_wake(int uffd, uint64_t start, uint64_t len)
{
    struct uffdio_range range = { .start = start, .len = len };
    return KVMCTL_IOCTL(uffd, UFFDIO_WAKE, &range);
}

/*
 * Reads one message: the faulting address of a page fault, -EAGAIN when none
 * is pending (the descriptor is non-blocking), -EPROTO for another event.
 */
int64_t kvmctl_uffd_read_fault(int uffd)
{
    struct uffd_msg msg;
    ssize_t n = read(uffd, &msg, sizeof msg);
    if (n < 0) {
        return -errno;
    }
    if (n != (ssize_t)sizeof msg || msg.event != UFFD_EVENT_PAGEFAULT) {
        return -EPROTO;
    }
    return (int64_t)msg.arg.pagefault.address;
}
