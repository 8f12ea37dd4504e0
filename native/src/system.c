/* System ioctls: issued on the /dev/kvm file descriptor. */
#include "shim.h"

int kvmctl_get_api_version(int kvm) { return KVMCTL_IOCTL(kvm, KVM_GET_API_VERSION, 0); }
int kvmctl_create_vm(int kvm, uint64_t type) { return KVMCTL_IOCTL(kvm, KVM_CREATE_VM, type); }
int kvmctl_check_extension(int fd, int64_t cap) { return KVMCTL_IOCTL(fd, KVM_CHECK_EXTENSION, cap); }
int kvmctl_get_vcpu_mmap_size(int kvm) { return KVMCTL_IOCTL(kvm, KVM_GET_VCPU_MMAP_SIZE, 0); }
int kvmctl_get_supported_cpuid(int kvm, void *cpuid2) { return KVMCTL_IOCTL(kvm, KVM_GET_SUPPORTED_CPUID, cpuid2); }
int kvmctl_get_emulated_cpuid(int kvm, void *cpuid2) { return KVMCTL_IOCTL(kvm, KVM_GET_EMULATED_CPUID, cpuid2); }
int kvmctl_get_msr_index_list(int kvm, void *msr_list) { return KVMCTL_IOCTL(kvm, KVM_GET_MSR_INDEX_LIST, msr_list); }
int kvmctl_get_msr_feature_index_list(int kvm, void *msr_list) { return KVMCTL_IOCTL(kvm, KVM_GET_MSR_FEATURE_INDEX_LIST, msr_list); }
