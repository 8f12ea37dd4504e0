/*
 * kvmctl's native shim: one function per KVM ioctl, nothing more.
 *
 * Every function returns the ioctl's non-negative result, or -errno on
 * failure; none of them allocates, retries or decides anything. Structs are
 * passed as raw addresses that Java owns (direct buffers), and their layouts
 * reach Java through the layout table below, so no offset is written twice.
 */
#ifndef KVMCTL_SHIM_H
#define KVMCTL_SHIM_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- layout table: struct sizes, field offsets and ABI constants ---- */
int kvmctl_layout_count(void);
const char *kvmctl_layout_name(int index);
int64_t kvmctl_layout_value(int index);

/* ---- system ioctls (on the /dev/kvm fd) ---- */
int kvmctl_get_api_version(int kvm);
int kvmctl_create_vm(int kvm, uint64_t type);
int kvmctl_check_extension(int fd, int64_t cap);
int kvmctl_get_vcpu_mmap_size(int kvm);
int kvmctl_get_supported_cpuid(int kvm, void *cpuid2);
int kvmctl_get_emulated_cpuid(int kvm, void *cpuid2);
int kvmctl_get_msr_index_list(int kvm, void *msr_list);
int kvmctl_get_msr_feature_index_list(int kvm, void *msr_list);

/* ---- VM ioctls ---- */
int kvmctl_create_vcpu(int vm, uint64_t id);
int kvmctl_set_user_memory_region(int vm, uint32_t slot, uint32_t flags,
                                  uint64_t guest_phys_addr, uint64_t memory_size,
                                  uint64_t userspace_addr);
int kvmctl_set_tss_addr(int vm, uint64_t addr);
int kvmctl_set_identity_map_addr(int vm, uint64_t addr);
int kvmctl_create_irqchip(int vm);
int kvmctl_get_irqchip(int vm, void *irqchip);
int kvmctl_set_irqchip(int vm, void *irqchip);
int kvmctl_create_pit2(int vm, uint32_t flags);
int kvmctl_get_pit2(int vm, void *pit_state2);
int kvmctl_set_pit2(int vm, void *pit_state2);
int kvmctl_irq_line(int vm, uint32_t irq, uint32_t level);
int kvmctl_ioeventfd(int vm, uint64_t addr, uint32_t len, int fd, uint32_t flags,
                     uint64_t datamatch);
int kvmctl_irqfd(int vm, int fd, uint32_t gsi, uint32_t flags, int resamplefd);
int kvmctl_get_dirty_log(int vm, uint32_t slot, void *bitmap);
int kvmctl_get_clock(int vm, void *clock_data);
int kvmctl_set_clock(int vm, void *clock_data);
int kvmctl_enable_cap(int fd, uint32_t cap, uint64_t arg0, uint64_t arg1);

/* ---- vCPU ioctls ---- */
int kvmctl_run(int vcpu);
int kvmctl_get_regs(int vcpu, void *regs);
int kvmctl_set_regs(int vcpu, void *regs);
int kvmctl_get_sregs(int vcpu, void *sregs);
int kvmctl_set_sregs(int vcpu, void *sregs);
int kvmctl_get_fpu(int vcpu, void *fpu);
int kvmctl_set_fpu(int vcpu, void *fpu);
int kvmctl_get_xsave(int vcpu, void *xsave);
int kvmctl_get_xsave2(int vcpu, void *xsave);
int kvmctl_set_xsave(int vcpu, void *xsave);
int kvmctl_get_xcrs(int vcpu, void *xcrs);
int kvmctl_set_xcrs(int vcpu, void *xcrs);
int kvmctl_get_msrs(int vcpu, void *msrs);
int kvmctl_set_msrs(int vcpu, void *msrs);
int kvmctl_get_lapic(int vcpu, void *lapic);
int kvmctl_set_lapic(int vcpu, void *lapic);
int kvmctl_get_mp_state(int vcpu, void *mp_state);
int kvmctl_set_mp_state(int vcpu, void *mp_state);
int kvmctl_get_vcpu_events(int vcpu, void *events);
int kvmctl_set_vcpu_events(int vcpu, void *events);
int kvmctl_get_debugregs(int vcpu, void *debugregs);
int kvmctl_set_debugregs(int vcpu, void *debugregs);
int kvmctl_get_cpuid2(int vcpu, void *cpuid2);
int kvmctl_set_cpuid2(int vcpu, void *cpuid2);
int kvmctl_set_guest_debug(int vcpu, void *guest_debug);
int kvmctl_get_tsc_khz(int vcpu);
int kvmctl_set_tsc_khz(int vcpu, uint32_t khz);
int kvmctl_translate(int vcpu, void *translation);
int kvmctl_nmi(int vcpu);
int kvmctl_interrupt(int vcpu, uint32_t irq);

/* ---- issue 9: the rest of kvm-ioctls' x86-64 ioctls ---- */
int kvmctl_create_device(int vm, uint32_t type, uint32_t flags);
int kvmctl_has_device_attr(int fd, uint32_t flags, uint32_t group, uint64_t attr, uint64_t addr);
int kvmctl_get_device_attr(int fd, uint32_t flags, uint32_t group, uint64_t attr, uint64_t addr);
int kvmctl_set_device_attr(int fd, uint32_t flags, uint32_t group, uint64_t attr, uint64_t addr);
int kvmctl_set_gsi_routing(int vm, void *routing);
int kvmctl_signal_msi(int vm, uint32_t address_lo, uint32_t address_hi, uint32_t data,
                      uint32_t flags, uint32_t devid);
int kvmctl_register_coalesced_mmio(int vm, uint64_t addr, uint32_t size, uint32_t pio);
int kvmctl_unregister_coalesced_mmio(int vm, uint64_t addr, uint32_t size, uint32_t pio);
int kvmctl_set_user_memory_region2(int vm, uint32_t slot, uint32_t flags,
                                   uint64_t guest_phys_addr, uint64_t memory_size,
                                   uint64_t userspace_addr, uint64_t guest_memfd_offset,
                                   uint32_t guest_memfd);
int kvmctl_create_guest_memfd(int vm, uint64_t size, uint64_t flags);
int kvmctl_set_memory_attributes(int vm, uint64_t address, uint64_t size, uint64_t attributes,
                                 uint64_t flags);
int kvmctl_clear_dirty_log(int vm, uint32_t slot, uint64_t first_page, uint32_t num_pages,
                           void *bitmap);
int kvmctl_reset_dirty_rings(int vm);
int kvmctl_set_msr_filter(int vm, void *filter);
int kvmctl_get_stats_fd(int fd);
int kvmctl_kvmclock_ctrl(int vcpu);
int kvmctl_smi(int vcpu);
int kvmctl_get_nested_state(int vcpu, void *state);
int kvmctl_set_nested_state(int vcpu, void *state);
int kvmctl_pre_fault_memory(int vcpu, void *range);

/* ---- leaving KVM_RUN from another thread ---- */
/* Installs a handler that does nothing, without SA_RESTART, so that a signal
 * makes a blocked KVM_RUN return -EINTR. */
int kvmctl_kick_install(int signo);
int kvmctl_sigrtmin(void);
int64_t kvmctl_thread_self(void);
int kvmctl_thread_kick(int64_t thread, int signo);

/* ---- userfaultfd (lazy guest memory) ---- */
int kvmctl_userfaultfd(int flags);
/* Through /dev/userfaultfd (USERFAULTFD_IOC_NEW), where the system call is refused. */
int kvmctl_userfaultfd_dev(int flags);
int kvmctl_uffdio_api(int uffd, uint64_t features);
int kvmctl_uffdio_register(int uffd, uint64_t start, uint64_t len, uint64_t mode);
int64_t kvmctl_uffdio_copy(int uffd, uint64_t dst, uint64_t src, uint64_t len, uint64_t mode);
int64_t kvmctl_uffdio_zeropage(int uffd, uint64_t start, uint64_t len, uint64_t mode);
int kvmctl_uffdio_wake(int uffd, uint64_t start, uint64_t len);
int64_t kvmctl_uffd_read_fault(int uffd);

#ifdef __cplusplus
}
#endif

#endif
