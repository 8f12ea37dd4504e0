/* Private helpers shared by the shim's source files. */
#ifndef KVMCTL_SHIM_PRIVATE_H
#define KVMCTL_SHIM_PRIVATE_H

#include <errno.h>
#include <sys/ioctl.h>
#include "kvm_compat.h"

#include "kvmctl_shim.h"

/* The shim's one convention: the kernel's result, or -errno. */
static inline int kvmctl_result(int rc)
{
    return rc < 0 ? -errno : rc;
}

#define KVMCTL_IOCTL(fd, request, arg) kvmctl_result(ioctl((fd), (request), (arg)))

#endif
