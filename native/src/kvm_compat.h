/*
 * KVM uAPI newer than the linux-libc-dev headers this shim may be built against (Debian 12 ships
 * 6.1's). Copied from the kernel's include/uapi/linux/kvm.h (6.8 for guest_memfd, memory
 * attributes and memory regions 2; 6.10 for pre-faulting); each block is used only when the
 * installed headers lack it, so newer headers win. The ABI is stable: these layouts cannot change.
 */
#ifndef KVMCTL_KVM_COMPAT_H
#define KVMCTL_KVM_COMPAT_H

#include <linux/kvm.h>

#ifndef KVM_SET_USER_MEMORY_REGION2
#define KVM_MEM_GUEST_MEMFD (1UL << 2)
struct kvm_userspace_memory_region2 {
	__u32 slot;
	__u32 flags;
	__u64 guest_phys_addr;
	__u64 memory_size;
	__u64 userspace_addr;
	__u64 guest_memfd_offset;
	__u32 guest_memfd;
	__u32 pad1;
	__u64 pad2[14];
};
#define KVM_SET_USER_MEMORY_REGION2 _IOW(KVMIO, 0x49, struct kvm_userspace_memory_region2)
#define KVM_CAP_USER_MEMORY2 231
#endif

#ifndef KVM_SET_MEMORY_ATTRIBUTES
struct kvm_memory_attributes {
	__u64 address;
	__u64 size;
	__u64 attributes;
	__u64 flags;
};
#define KVM_SET_MEMORY_ATTRIBUTES _IOW(KVMIO, 0xd2, struct kvm_memory_attributes)
#define KVM_MEMORY_ATTRIBUTE_PRIVATE (1ULL << 3)
#define KVM_CAP_MEMORY_ATTRIBUTES 233
#endif

#ifndef KVM_CREATE_GUEST_MEMFD
struct kvm_create_guest_memfd {
	__u64 size;
	__u64 flags;
	__u64 reserved[6];
};
#define KVM_CREATE_GUEST_MEMFD _IOWR(KVMIO, 0xd4, struct kvm_create_guest_memfd)
#define KVM_CAP_GUEST_MEMFD 234
#define KVM_CAP_VM_TYPES 235
#endif

#ifndef KVM_PRE_FAULT_MEMORY
struct kvm_pre_fault_memory {
	__u64 gpa;
	__u64 size;
	__u64 flags;
	__u64 padding[5];
};
#define KVM_PRE_FAULT_MEMORY _IOWR(KVMIO, 0xd5, struct kvm_pre_fault_memory)
#define KVM_CAP_PRE_FAULT_MEMORY 236
#endif

#endif
