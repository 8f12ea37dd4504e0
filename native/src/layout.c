/*
 * The layout table: every struct size, field offset and ABI constant that
 * Java needs, taken from the kernel headers by the compiler. Java looks the
 * entries up by name once at class initialisation, so a layout is written
 * down exactly once, here, by offsetof and sizeof.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shim.h"

struct kvmctl_layout_entry {
    const char *name;
    int64_t value;
};

#define SIZE(type) { "sizeof " #type, (int64_t)sizeof(struct type) }
#define FIELD(type, field) { #type "." #field, (int64_t)offsetof(struct type, field) }
#define CONSTANT(name) { #name, (int64_t)(name) }
/* The size of one member (of one element, for an array member). */
#define MEMBER_SIZE(type, member) \
    { "sizeof " #type "." #member, (int64_t)sizeof(((struct type *)0)->member) }

static const struct kvmctl_layout_entry kvmctl_layout[] = {
    /* struct kvm_run: the page shared with the kernel for every exit. */
    SIZE(kvm_run),
    FIELD(kvm_run, request_interrupt_window),
    FIELD(kvm_run, immediate_exit),
    FIELD(kvm_run, exit_reason),
    FIELD(kvm_run, ready_for_interrupt_injection),
    FIELD(kvm_run, if_flag),
    FIELD(kvm_run, flags),
    FIELD(kvm_run, cr8),
    FIELD(kvm_run, apic_base),
    FIELD(kvm_run, hw.hardware_exit_reason),
    FIELD(kvm_run, fail_entry.hardware_entry_failure_reason),
    FIELD(kvm_run, fail_entry.cpu),
    FIELD(kvm_run, ex.exception),
    FIELD(kvm_run, ex.error_code),
    FIELD(kvm_run, io.direction),
    FIELD(kvm_run, io.size),
    FIELD(kvm_run, io.port),
    FIELD(kvm_run, io.count),
    FIELD(kvm_run, io.data_offset),
    FIELD(kvm_run, debug.arch.exception),
    FIELD(kvm_run, debug.arch.pc),
    FIELD(kvm_run, debug.arch.dr6),
    FIELD(kvm_run, debug.arch.dr7),
    FIELD(kvm_run, mmio.phys_addr),
    FIELD(kvm_run, mmio.data),
    FIELD(kvm_run, mmio.len),
    FIELD(kvm_run, mmio.is_write),
    FIELD(kvm_run, hypercall.nr),
    FIELD(kvm_run, internal.suberror),
    FIELD(kvm_run, internal.ndata),
    FIELD(kvm_run, internal.data),
    FIELD(kvm_run, emulation_failure.flags),
    FIELD(kvm_run, emulation_failure.insn_size),
    FIELD(kvm_run, emulation_failure.insn_bytes),
    FIELD(kvm_run, system_event.type),
    FIELD(kvm_run, system_event.ndata),
    FIELD(kvm_run, system_event.data),

    /* General purpose registers. */
    SIZE(kvm_regs),
    FIELD(kvm_regs, rax), FIELD(kvm_regs, rbx), FIELD(kvm_regs, rcx), FIELD(kvm_regs, rdx),
    FIELD(kvm_regs, rsi), FIELD(kvm_regs, rdi), FIELD(kvm_regs, rsp), FIELD(kvm_regs, rbp),
    FIELD(kvm_regs, r8), FIELD(kvm_regs, r9), FIELD(kvm_regs, r10), FIELD(kvm_regs, r11),
    FIELD(kvm_regs, r12), FIELD(kvm_regs, r13), FIELD(kvm_regs, r14), FIELD(kvm_regs, r15),
    FIELD(kvm_regs, rip), FIELD(kvm_regs, rflags),

    /* Special registers, segments and descriptor tables. */
    SIZE(kvm_sregs),
    FIELD(kvm_sregs, cs), FIELD(kvm_sregs, ds), FIELD(kvm_sregs, es), FIELD(kvm_sregs, fs),
    FIELD(kvm_sregs, gs), FIELD(kvm_sregs, ss), FIELD(kvm_sregs, tr), FIELD(kvm_sregs, ldt),
    FIELD(kvm_sregs, gdt), FIELD(kvm_sregs, idt),
    FIELD(kvm_sregs, cr0), FIELD(kvm_sregs, cr2), FIELD(kvm_sregs, cr3), FIELD(kvm_sregs, cr4),
    FIELD(kvm_sregs, cr8), FIELD(kvm_sregs, efer), FIELD(kvm_sregs, apic_base),
    FIELD(kvm_sregs, interrupt_bitmap),
    SIZE(kvm_segment),
    FIELD(kvm_segment, base), FIELD(kvm_segment, limit), FIELD(kvm_segment, selector),
    FIELD(kvm_segment, type), FIELD(kvm_segment, present), FIELD(kvm_segment, dpl),
    FIELD(kvm_segment, db), FIELD(kvm_segment, s), FIELD(kvm_segment, l),
    FIELD(kvm_segment, g), FIELD(kvm_segment, avl), FIELD(kvm_segment, unusable),
    SIZE(kvm_dtable),
    FIELD(kvm_dtable, base), FIELD(kvm_dtable, limit),

    /* Floating point and extended state. */
    SIZE(kvm_fpu),
    FIELD(kvm_fpu, fpr), FIELD(kvm_fpu, fcw), FIELD(kvm_fpu, fsw), FIELD(kvm_fpu, ftwx),
    FIELD(kvm_fpu, last_opcode), FIELD(kvm_fpu, last_ip), FIELD(kvm_fpu, last_dp),
    FIELD(kvm_fpu, xmm), FIELD(kvm_fpu, mxcsr),
    MEMBER_SIZE(kvm_fpu, fpr), MEMBER_SIZE(kvm_fpu, fpr[0]),
    MEMBER_SIZE(kvm_fpu, xmm), MEMBER_SIZE(kvm_fpu, xmm[0]),
    SIZE(kvm_xsave),
    SIZE(kvm_xcrs),
    FIELD(kvm_xcrs, nr_xcrs), FIELD(kvm_xcrs, flags), FIELD(kvm_xcrs, xcrs),
    SIZE(kvm_xcr),
    FIELD(kvm_xcr, xcr), FIELD(kvm_xcr, value),

    /* MSRs. */
    SIZE(kvm_msrs),
    FIELD(kvm_msrs, nmsrs), FIELD(kvm_msrs, entries),
    SIZE(kvm_msr_entry),
    FIELD(kvm_msr_entry, index), FIELD(kvm_msr_entry, data),
    SIZE(kvm_msr_list),
    FIELD(kvm_msr_list, nmsrs), FIELD(kvm_msr_list, indices), MEMBER_SIZE(kvm_msr_list, indices[0]),

    /* CPUID. */
    SIZE(kvm_cpuid2),
    FIELD(kvm_cpuid2, nent), FIELD(kvm_cpuid2, entries),
    SIZE(kvm_cpuid_entry2),
    FIELD(kvm_cpuid_entry2, function), FIELD(kvm_cpuid_entry2, index),
    FIELD(kvm_cpuid_entry2, flags), FIELD(kvm_cpuid_entry2, eax),
    FIELD(kvm_cpuid_entry2, ebx), FIELD(kvm_cpuid_entry2, ecx), FIELD(kvm_cpuid_entry2, edx),

    /* The rest of a vCPU's state, kept as opaque blobs plus the fields Java reads. */
    SIZE(kvm_lapic_state),
    CONSTANT(KVM_APIC_REG_SIZE),
    SIZE(kvm_mp_state),
    FIELD(kvm_mp_state, mp_state),
    SIZE(kvm_vcpu_events),
    FIELD(kvm_vcpu_events, exception.injected), FIELD(kvm_vcpu_events, exception.nr),
    FIELD(kvm_vcpu_events, exception.has_error_code), FIELD(kvm_vcpu_events, exception.pending),
    FIELD(kvm_vcpu_events, exception.error_code),
    FIELD(kvm_vcpu_events, interrupt.injected), FIELD(kvm_vcpu_events, interrupt.nr),
    FIELD(kvm_vcpu_events, interrupt.soft), FIELD(kvm_vcpu_events, interrupt.shadow),
    FIELD(kvm_vcpu_events, nmi.injected), FIELD(kvm_vcpu_events, nmi.pending),
    FIELD(kvm_vcpu_events, nmi.masked),
    FIELD(kvm_vcpu_events, sipi_vector), FIELD(kvm_vcpu_events, flags),
    FIELD(kvm_vcpu_events, smi.smm), FIELD(kvm_vcpu_events, smi.pending),
    FIELD(kvm_vcpu_events, smi.smm_inside_nmi), FIELD(kvm_vcpu_events, smi.latched_init),
    FIELD(kvm_vcpu_events, triple_fault.pending),
    FIELD(kvm_vcpu_events, exception_has_payload), FIELD(kvm_vcpu_events, exception_payload),
    CONSTANT(KVM_VCPUEVENT_VALID_NMI_PENDING), CONSTANT(KVM_VCPUEVENT_VALID_SIPI_VECTOR),
    CONSTANT(KVM_VCPUEVENT_VALID_SHADOW), CONSTANT(KVM_VCPUEVENT_VALID_SMM),
    CONSTANT(KVM_VCPUEVENT_VALID_PAYLOAD), CONSTANT(KVM_VCPUEVENT_VALID_TRIPLE_FAULT),
    CONSTANT(KVM_X86_SHADOW_INT_MOV_SS), CONSTANT(KVM_X86_SHADOW_INT_STI),
    SIZE(kvm_debugregs),
    FIELD(kvm_debugregs, db), FIELD(kvm_debugregs, dr6), FIELD(kvm_debugregs, dr7),
    FIELD(kvm_debugregs, flags), MEMBER_SIZE(kvm_debugregs, db),
    SIZE(kvm_guest_debug),
    FIELD(kvm_guest_debug, control), FIELD(kvm_guest_debug, arch.debugreg),
    SIZE(kvm_translation),
    FIELD(kvm_translation, linear_address), FIELD(kvm_translation, physical_address),
    FIELD(kvm_translation, valid), FIELD(kvm_translation, writeable),
    FIELD(kvm_translation, usermode),

    /* VM-wide state. */
    SIZE(kvm_clock_data),
    FIELD(kvm_clock_data, clock), FIELD(kvm_clock_data, flags),
    SIZE(kvm_irqchip),
    FIELD(kvm_irqchip, chip_id), FIELD(kvm_irqchip, chip),
    FIELD(kvm_pic_state, last_irr), FIELD(kvm_pic_state, irr), FIELD(kvm_pic_state, imr),
    FIELD(kvm_pic_state, isr), FIELD(kvm_pic_state, priority_add),
    FIELD(kvm_pic_state, irq_base), FIELD(kvm_pic_state, read_reg_select),
    FIELD(kvm_pic_state, poll), FIELD(kvm_pic_state, special_mask),
    FIELD(kvm_pic_state, init_state), FIELD(kvm_pic_state, auto_eoi),
    FIELD(kvm_pic_state, rotate_on_auto_eoi), FIELD(kvm_pic_state, special_fully_nested_mode),
    FIELD(kvm_pic_state, init4), FIELD(kvm_pic_state, elcr), FIELD(kvm_pic_state, elcr_mask),
    FIELD(kvm_ioapic_state, base_address), FIELD(kvm_ioapic_state, ioregsel),
    FIELD(kvm_ioapic_state, id), FIELD(kvm_ioapic_state, irr),
    FIELD(kvm_ioapic_state, redirtbl), MEMBER_SIZE(kvm_ioapic_state, redirtbl[0]),
    CONSTANT(KVM_IOAPIC_NUM_PINS),
    SIZE(kvm_pit_state2),
    FIELD(kvm_pit_state2, channels), MEMBER_SIZE(kvm_pit_state2, channels), FIELD(kvm_pit_state2, flags),
    SIZE(kvm_pit_channel_state),
    FIELD(kvm_pit_channel_state, count), MEMBER_SIZE(kvm_pit_channel_state, count),
    FIELD(kvm_pit_channel_state, latched_count), MEMBER_SIZE(kvm_pit_channel_state, latched_count),
    FIELD(kvm_pit_channel_state, count_latched), MEMBER_SIZE(kvm_pit_channel_state, count_latched),
    FIELD(kvm_pit_channel_state, status_latched), MEMBER_SIZE(kvm_pit_channel_state, status_latched),
    FIELD(kvm_pit_channel_state, status), MEMBER_SIZE(kvm_pit_channel_state, status),
    FIELD(kvm_pit_channel_state, read_state), MEMBER_SIZE(kvm_pit_channel_state, read_state),
    FIELD(kvm_pit_channel_state, write_state), MEMBER_SIZE(kvm_pit_channel_state, write_state),
    FIELD(kvm_pit_channel_state, write_latch), MEMBER_SIZE(kvm_pit_channel_state, write_latch),
    FIELD(kvm_pit_channel_state, rw_mode), MEMBER_SIZE(kvm_pit_channel_state, rw_mode),
    FIELD(kvm_pit_channel_state, mode), MEMBER_SIZE(kvm_pit_channel_state, mode),
    FIELD(kvm_pit_channel_state, bcd), MEMBER_SIZE(kvm_pit_channel_state, bcd),
    FIELD(kvm_pit_channel_state, gate), MEMBER_SIZE(kvm_pit_channel_state, gate),
    FIELD(kvm_pit_channel_state, count_load_time), MEMBER_SIZE(kvm_pit_channel_state, count_load_time),
    CONSTANT(KVM_PIT_FLAGS_HPET_LEGACY), CONSTANT(KVM_PIT_FLAGS_SPEAKER_DATA_ON),

    /* Exit reasons. */
    CONSTANT(KVM_EXIT_UNKNOWN), CONSTANT(KVM_EXIT_EXCEPTION), CONSTANT(KVM_EXIT_IO),
    CONSTANT(KVM_EXIT_HYPERCALL), CONSTANT(KVM_EXIT_DEBUG), CONSTANT(KVM_EXIT_HLT),
    CONSTANT(KVM_EXIT_MMIO), CONSTANT(KVM_EXIT_IRQ_WINDOW_OPEN), CONSTANT(KVM_EXIT_SHUTDOWN),
    CONSTANT(KVM_EXIT_FAIL_ENTRY), CONSTANT(KVM_EXIT_INTR), CONSTANT(KVM_EXIT_NMI),
    CONSTANT(KVM_EXIT_INTERNAL_ERROR), CONSTANT(KVM_EXIT_SYSTEM_EVENT),
    CONSTANT(KVM_EXIT_IO_IN), CONSTANT(KVM_EXIT_IO_OUT),
    CONSTANT(KVM_INTERNAL_ERROR_EMULATION), CONSTANT(KVM_INTERNAL_ERROR_SIMUL_EX),
    CONSTANT(KVM_INTERNAL_ERROR_DELIVERY_EV), CONSTANT(KVM_INTERNAL_ERROR_UNEXPECTED_EXIT_REASON),
    CONSTANT(KVM_SYSTEM_EVENT_SHUTDOWN), CONSTANT(KVM_SYSTEM_EVENT_RESET),
    CONSTANT(KVM_SYSTEM_EVENT_CRASH),

    /* Flags and values taken by ioctls. */
    CONSTANT(KVM_API_VERSION),
    CONSTANT(KVM_MEM_LOG_DIRTY_PAGES), CONSTANT(KVM_MEM_READONLY),
    CONSTANT(KVM_GUESTDBG_ENABLE), CONSTANT(KVM_GUESTDBG_SINGLESTEP),
    CONSTANT(KVM_GUESTDBG_USE_SW_BP), CONSTANT(KVM_GUESTDBG_USE_HW_BP),
    CONSTANT(KVM_IOEVENTFD_FLAG_DATAMATCH), CONSTANT(KVM_IOEVENTFD_FLAG_PIO),
    CONSTANT(KVM_IOEVENTFD_FLAG_DEASSIGN),
    CONSTANT(KVM_IRQFD_FLAG_DEASSIGN), CONSTANT(KVM_IRQFD_FLAG_RESAMPLE),
    CONSTANT(KVM_MP_STATE_RUNNABLE), CONSTANT(KVM_MP_STATE_UNINITIALIZED),
    CONSTANT(KVM_MP_STATE_INIT_RECEIVED), CONSTANT(KVM_MP_STATE_HALTED),
    CONSTANT(KVM_MP_STATE_SIPI_RECEIVED),
    CONSTANT(KVM_IRQCHIP_PIC_MASTER), CONSTANT(KVM_IRQCHIP_PIC_SLAVE),
    CONSTANT(KVM_IRQCHIP_IOAPIC),
    CONSTANT(KVM_PIT_SPEAKER_DUMMY),
    CONSTANT(KVM_CLOCK_TSC_STABLE),

    /* errno values (their names and descriptions come from jnr-constants, cross-checked by a test). */
    CONSTANT(EPERM), CONSTANT(ENOENT), CONSTANT(EINTR), CONSTANT(EIO), CONSTANT(ENXIO),
    CONSTANT(E2BIG), CONSTANT(EBADF), CONSTANT(EAGAIN), CONSTANT(ENOMEM), CONSTANT(EACCES),
    CONSTANT(EFAULT), CONSTANT(EBUSY), CONSTANT(EEXIST), CONSTANT(ENODEV), CONSTANT(EINVAL),
    CONSTANT(ENFILE), CONSTANT(EMFILE), CONSTANT(ENOTTY), CONSTANT(ENOSPC), CONSTANT(ERANGE),
    CONSTANT(ENOSYS), CONSTANT(EOPNOTSUPP),

    /* libc flags kvmctl passes through JNR-FFI (internal/bridge/LibC). */
    CONSTANT(O_RDONLY), CONSTANT(O_RDWR), CONSTANT(O_CLOEXEC), CONSTANT(O_NONBLOCK),
    CONSTANT(O_NOCTTY),
    CONSTANT(MFD_CLOEXEC),
    CONSTANT(PROT_READ), CONSTANT(PROT_WRITE),
    CONSTANT(MAP_SHARED), CONSTANT(MAP_PRIVATE), CONSTANT(MAP_ANONYMOUS), CONSTANT(MAP_NORESERVE),
    CONSTANT(MAP_FIXED),
    CONSTANT(EFD_CLOEXEC), CONSTANT(EFD_NONBLOCK),
    CONSTANT(MADV_DONTNEED), CONSTANT(MADV_REMOVE), CONSTANT(MADV_POPULATE_WRITE),
    CONSTANT(SEEK_DATA),
    CONSTANT(POLLIN),
    CONSTANT(SCHED_BATCH),
    SIZE(pollfd), FIELD(pollfd, fd), FIELD(pollfd, events), FIELD(pollfd, revents),

    /* Request numbers, only for the benchmark that calls ioctl(2) directly through JNR-FFI. */
    CONSTANT(KVM_RUN), CONSTANT(KVM_GET_REGS), CONSTANT(KVM_SET_REGS),

    /* Capabilities. */
    CONSTANT(KVM_CAP_IRQCHIP), CONSTANT(KVM_CAP_HLT), CONSTANT(KVM_CAP_USER_MEMORY),
    CONSTANT(KVM_CAP_SET_TSS_ADDR), CONSTANT(KVM_CAP_EXT_CPUID), CONSTANT(KVM_CAP_NR_VCPUS),
    CONSTANT(KVM_CAP_NR_MEMSLOTS), CONSTANT(KVM_CAP_PIT2), CONSTANT(KVM_CAP_MP_STATE),
    CONSTANT(KVM_CAP_SYNC_MMU), CONSTANT(KVM_CAP_IOEVENTFD), CONSTANT(KVM_CAP_IRQFD),
    CONSTANT(KVM_CAP_ADJUST_CLOCK), CONSTANT(KVM_CAP_VCPU_EVENTS), CONSTANT(KVM_CAP_DEBUGREGS),
    CONSTANT(KVM_CAP_XSAVE), CONSTANT(KVM_CAP_XCRS), CONSTANT(KVM_CAP_GET_TSC_KHZ),
    CONSTANT(KVM_CAP_TSC_CONTROL), CONSTANT(KVM_CAP_SET_GUEST_DEBUG),
    CONSTANT(KVM_CAP_SET_IDENTITY_MAP_ADDR), CONSTANT(KVM_CAP_MAX_VCPUS),
    CONSTANT(KVM_CAP_MAX_VCPU_ID), CONSTANT(KVM_CAP_READONLY_MEM),
    CONSTANT(KVM_CAP_IMMEDIATE_EXIT), CONSTANT(KVM_CAP_SPLIT_IRQCHIP),
    CONSTANT(KVM_CAP_XSAVE2), CONSTANT(KVM_CAP_GET_MSR_FEATURES),
    CONSTANT(KVM_CAP_TSC_DEADLINE_TIMER), CONSTANT(KVM_CAP_IRQ_ROUTING),
    CONSTANT(KVM_CAP_INTERNAL_ERROR_DATA), CONSTANT(KVM_CAP_EXCEPTION_PAYLOAD),
    CONSTANT(KVM_CAP_KVMCLOCK_CTRL), CONSTANT(KVM_CAP_X86_ROBUST_SINGLESTEP),
    CONSTANT(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2), CONSTANT(KVM_CAP_DIRTY_LOG_RING),
    CONSTANT(KVM_CAP_COALESCED_MMIO), CONSTANT(KVM_CAP_SYNC_REGS),
    /* userfaultfd: lazy guest memory. */
    CONSTANT(UFFDIO_REGISTER_MODE_MISSING),

    /* Issue 9: the rest of kvm-ioctls' x86-64 ioctls, and every exit the headers define. */
    FIELD(kvm_run, kvm_valid_regs), FIELD(kvm_run, kvm_dirty_regs), FIELD(kvm_run, s.regs),
    FIELD(kvm_run, s.regs.sregs), FIELD(kvm_run, s.regs.events),
    FIELD(kvm_run, hypercall.args), FIELD(kvm_run, hypercall.ret), FIELD(kvm_run, hypercall.longmode),
    FIELD(kvm_run, tpr_access.rip), FIELD(kvm_run, tpr_access.is_write),
    FIELD(kvm_run, eoi.vector),
    FIELD(kvm_run, msr.error), FIELD(kvm_run, msr.reason), FIELD(kvm_run, msr.index),
    FIELD(kvm_run, msr.data),
    FIELD(kvm_run, notify.flags),
    FIELD(kvm_run, hyperv.type),
    FIELD(kvm_run, xen.type),
    FIELD(kvm_run, padding),
    CONSTANT(KVM_EXIT_SET_TPR), CONSTANT(KVM_EXIT_TPR_ACCESS), CONSTANT(KVM_EXIT_S390_SIEIC),
    CONSTANT(KVM_EXIT_S390_RESET), CONSTANT(KVM_EXIT_DCR), CONSTANT(KVM_EXIT_OSI),
    CONSTANT(KVM_EXIT_PAPR_HCALL), CONSTANT(KVM_EXIT_S390_UCONTROL), CONSTANT(KVM_EXIT_WATCHDOG),
    CONSTANT(KVM_EXIT_S390_TSCH), CONSTANT(KVM_EXIT_EPR), CONSTANT(KVM_EXIT_S390_STSI),
    CONSTANT(KVM_EXIT_IOAPIC_EOI), CONSTANT(KVM_EXIT_HYPERV), CONSTANT(KVM_EXIT_ARM_NISV),
    CONSTANT(KVM_EXIT_X86_RDMSR), CONSTANT(KVM_EXIT_X86_WRMSR), CONSTANT(KVM_EXIT_DIRTY_RING_FULL),
    CONSTANT(KVM_EXIT_AP_RESET_HOLD), CONSTANT(KVM_EXIT_X86_BUS_LOCK), CONSTANT(KVM_EXIT_XEN),
    CONSTANT(KVM_EXIT_RISCV_SBI), CONSTANT(KVM_EXIT_RISCV_CSR), CONSTANT(KVM_EXIT_NOTIFY),
    CONSTANT(KVM_MSR_EXIT_REASON_INVAL), CONSTANT(KVM_MSR_EXIT_REASON_UNKNOWN),
    CONSTANT(KVM_MSR_EXIT_REASON_FILTER),
    CONSTANT(KVM_SYNC_X86_REGS), CONSTANT(KVM_SYNC_X86_SREGS), CONSTANT(KVM_SYNC_X86_EVENTS),
    CONSTANT(KVM_CREATE_DEVICE_TEST), CONSTANT(KVM_DEV_TYPE_VFIO),
    CONSTANT(KVM_DEV_VFIO_GROUP), CONSTANT(KVM_DEV_VFIO_GROUP_ADD),
    CONSTANT(KVM_VCPU_TSC_CTRL), CONSTANT(KVM_VCPU_TSC_OFFSET),
    CONSTANT(KVM_COALESCED_MMIO_PAGE_OFFSET), CONSTANT(KVM_DIRTY_LOG_PAGE_OFFSET),
    CONSTANT(KVM_DIRTY_GFN_F_DIRTY), CONSTANT(KVM_DIRTY_GFN_F_RESET),
    CONSTANT(KVM_IRQ_ROUTING_IRQCHIP), CONSTANT(KVM_IRQ_ROUTING_MSI),
    CONSTANT(KVM_MSI_VALID_DEVID), CONSTANT(KVM_IRQFD_FLAG_RESAMPLE),
    CONSTANT(KVM_MSR_FILTER_MAX_RANGES), CONSTANT(KVM_MSR_FILTER_DEFAULT_DENY),
    CONSTANT(KVM_MSR_FILTER_READ), CONSTANT(KVM_MSR_FILTER_WRITE),
    CONSTANT(KVM_MEM_GUEST_MEMFD), CONSTANT(KVM_MEMORY_ATTRIBUTE_PRIVATE),
    CONSTANT(KVM_STATS_TYPE_MASK), CONSTANT(KVM_STATS_UNIT_MASK), CONSTANT(KVM_STATS_BASE_MASK),
    CONSTANT(KVM_STATS_TYPE_SHIFT),
    CONSTANT(KVM_STATS_UNIT_SHIFT), CONSTANT(KVM_STATS_BASE_SHIFT),
    SIZE(kvm_irq_routing), FIELD(kvm_irq_routing, nr),
    FIELD(kvm_irq_routing, entries),
    SIZE(kvm_irq_routing_entry), FIELD(kvm_irq_routing_entry, gsi), FIELD(kvm_irq_routing_entry, type),
    FIELD(kvm_irq_routing_entry, flags), FIELD(kvm_irq_routing_entry, u.irqchip.irqchip),
    FIELD(kvm_irq_routing_entry, u.irqchip.pin), FIELD(kvm_irq_routing_entry, u.msi.address_lo),
    FIELD(kvm_irq_routing_entry, u.msi.address_hi), FIELD(kvm_irq_routing_entry, u.msi.data),
    FIELD(kvm_irq_routing_entry, u.msi.devid),
    SIZE(kvm_coalesced_mmio_ring), FIELD(kvm_coalesced_mmio_ring, first),
    FIELD(kvm_coalesced_mmio_ring, last), FIELD(kvm_coalesced_mmio_ring, coalesced_mmio),
    SIZE(kvm_coalesced_mmio), FIELD(kvm_coalesced_mmio, phys_addr), FIELD(kvm_coalesced_mmio, len),
    FIELD(kvm_coalesced_mmio, pio), FIELD(kvm_coalesced_mmio, data),
    SIZE(kvm_dirty_gfn), FIELD(kvm_dirty_gfn, flags), FIELD(kvm_dirty_gfn, slot),
    FIELD(kvm_dirty_gfn, offset),
    SIZE(kvm_msr_filter), FIELD(kvm_msr_filter, flags), FIELD(kvm_msr_filter, ranges),
    SIZE(kvm_msr_filter_range), FIELD(kvm_msr_filter_range, flags), FIELD(kvm_msr_filter_range, nmsrs),
    FIELD(kvm_msr_filter_range, base), FIELD(kvm_msr_filter_range, bitmap),
    SIZE(kvm_nested_state),
    FIELD(kvm_nested_state, size),
    SIZE(kvm_stats_header), FIELD(kvm_stats_header, name_size),
    FIELD(kvm_stats_header, num_desc), FIELD(kvm_stats_header, id_offset),
    FIELD(kvm_stats_header, desc_offset), FIELD(kvm_stats_header, data_offset),
    SIZE(kvm_stats_desc), FIELD(kvm_stats_desc, flags), FIELD(kvm_stats_desc, exponent),
    FIELD(kvm_stats_desc, size), FIELD(kvm_stats_desc, offset), FIELD(kvm_stats_desc, bucket_size),
    FIELD(kvm_stats_desc, name),
    SIZE(kvm_pre_fault_memory), FIELD(kvm_pre_fault_memory, gpa), FIELD(kvm_pre_fault_memory, size),
    CONSTANT(KVM_CAP_DEVICE_CTRL), CONSTANT(KVM_CAP_COALESCED_PIO),
    CONSTANT(KVM_CAP_IRQFD_RESAMPLE),
    CONSTANT(KVM_CAP_MEMORY_ATTRIBUTES), CONSTANT(KVM_CAP_X86_SMM), CONSTANT(KVM_CAP_X86_USER_SPACE_MSR),
    CONSTANT(KVM_CAP_X86_MSR_FILTER), CONSTANT(KVM_CAP_NESTED_STATE), CONSTANT(KVM_CAP_BINARY_STATS_FD),
    CONSTANT(KVM_CAP_VM_TYPES), CONSTANT(KVM_CAP_EXIT_HYPERCALL),
    CONSTANT(KVM_CAP_HYPERV_SYNIC),
};

/*
 * Bit fields have no offsetof: the IOAPIC redirection entry's are exported as masks over its
 * 64-bit "bits", found by setting the field to all ones in a zeroed entry.
 */
#define REDIRECTION_MASK(field)                                      \
    static int64_t redirection_##field(void)                          \
    {                                                                 \
        struct kvm_ioapic_state s;                                    \
        memset(&s, 0, sizeof s);                                      \
        s.redirtbl[0].fields.field--;                                 \
        return (int64_t)s.redirtbl[0].bits;                           \
    }
REDIRECTION_MASK(vector)
REDIRECTION_MASK(delivery_mode)
REDIRECTION_MASK(dest_mode)
REDIRECTION_MASK(delivery_status)
REDIRECTION_MASK(polarity)
REDIRECTION_MASK(remote_irr)
REDIRECTION_MASK(trig_mode)
REDIRECTION_MASK(mask)
REDIRECTION_MASK(dest_id)

struct kvmctl_computed_entry {
    const char *name;
    int64_t (*value)(void);
};

#define REDIRECTION(field) { "kvm_ioapic_state.redirtbl.fields." #field " mask", redirection_##field }

static const struct kvmctl_computed_entry kvmctl_computed[] = {
    REDIRECTION(vector), REDIRECTION(delivery_mode), REDIRECTION(dest_mode),
    REDIRECTION(delivery_status), REDIRECTION(polarity), REDIRECTION(remote_irr),
    REDIRECTION(trig_mode), REDIRECTION(mask), REDIRECTION(dest_id),
};

#define STATIC_COUNT ((int)(sizeof kvmctl_layout / sizeof kvmctl_layout[0]))
#define COMPUTED_COUNT ((int)(sizeof kvmctl_computed / sizeof kvmctl_computed[0]))

int kvmctl_layout_count(void)
{
    return STATIC_COUNT + COMPUTED_COUNT;
}

const char *kvmctl_layout_name(int index)
{
    if (index >= 0 && index < STATIC_COUNT) {
        return kvmctl_layout[index].name;
    }
    if (index >= STATIC_COUNT && index < kvmctl_layout_count()) {
        return kvmctl_computed[index - STATIC_COUNT].name;
    }
    return NULL;
}

int64_t kvmctl_layout_value(int index)
{
    if (index >= 0 && index < STATIC_COUNT) {
        return kvmctl_layout[index].value;
    }
    if (index >= STATIC_COUNT && index < kvmctl_layout_count()) {
        return kvmctl_computed[index - STATIC_COUNT].value();
    }
    return -1;
}
