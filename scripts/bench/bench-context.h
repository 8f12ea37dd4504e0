/*
 * A vCPU context in the order of dev.kvmctl.contexts (hypervisor level, then the vCPU in
 * Firecracker's order), captured and restored with plain ioctls: shared by the C baselines of
 * scripts/bench-contexts.sh (context-bench.c), scripts/bench-cold-switch.sh (cold-switch.c) and,
 * for the vCPU's part and the MSR list, scripts/bench-reset.sh (reset-bench.c).
 * No in-kernel irqchip, as kvmctl's machines by default: so no LAPIC, and the MSRs KVM refuses
 * without one are left out (learn_msrs), as VcpuContext does.
 */
#ifndef KVMCTL_BENCH_CONTEXT_H
#define KVMCTL_BENCH_CONTEXT_H

#include "bench-common.h"

#define MAX_MSRS 256

struct context {
    struct kvm_mp_state mp;
    struct kvm_regs regs;
    struct kvm_sregs sregs;
    struct kvm_xsave xsave;
    struct kvm_xcrs xcrs;
    struct kvm_debugregs debugregs;
    int tsc_khz;
    struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cpuid;
    struct { struct kvm_msrs m; struct kvm_msr_entry e[MAX_MSRS]; } msrs;
    struct kvm_vcpu_events events;
    struct kvm_clock_data clock;
};

static uint32_t msr_index[MAX_MSRS];
static int msr_count;

#define IOCTL(fd, req, arg) do { if (ioctl((fd), (req), (arg)) < 0) die(#req); } while (0)

/* The vCPU's own state, as a checkpoint keeps it (reset-bench.c): no clock, TSC rate or CPUID. */
static inline void capture_vcpu(int vcpu, struct context *c)
{
    IOCTL(vcpu, KVM_GET_MP_STATE, &c->mp);
    IOCTL(vcpu, KVM_GET_REGS, &c->regs);
    IOCTL(vcpu, KVM_GET_SREGS, &c->sregs);
    IOCTL(vcpu, KVM_GET_XSAVE, &c->xsave);
    IOCTL(vcpu, KVM_GET_XCRS, &c->xcrs);
    IOCTL(vcpu, KVM_GET_DEBUGREGS, &c->debugregs);
    c->msrs.m.nmsrs = msr_count;
    for (int i = 0; i < msr_count; i++)
        c->msrs.e[i].index = msr_index[i];
    if (ioctl(vcpu, KVM_GET_MSRS, &c->msrs) != msr_count)
        die("KVM_GET_MSRS");
    IOCTL(vcpu, KVM_GET_VCPU_EVENTS, &c->events);
}

static inline void capture(struct bench_vm *b, struct context *c)
{
    IOCTL(b->vm, KVM_GET_CLOCK, &c->clock);
    c->tsc_khz = ioctl(b->vcpu, KVM_GET_TSC_KHZ, 0);
    c->cpuid.c.nent = 256;
    IOCTL(b->vcpu, KVM_GET_CPUID2, &c->cpuid);
    capture_vcpu(b->vcpu, c);
}

/* The restore, leaving out CPUID when the vCPU holds the context's already (set ahead of time). */
static inline void restore_state(struct bench_vm *b, struct context *c, int cpuid)
{
    c->clock.flags = 0;
    IOCTL(b->vm, KVM_SET_CLOCK, &c->clock);
    if (cpuid)
        IOCTL(b->vcpu, KVM_SET_CPUID2, &c->cpuid);
    IOCTL(b->vcpu, KVM_SET_MP_STATE, &c->mp);
    IOCTL(b->vcpu, KVM_SET_REGS, &c->regs);
    IOCTL(b->vcpu, KVM_SET_SREGS, &c->sregs);
    IOCTL(b->vcpu, KVM_SET_XSAVE, &c->xsave);
    IOCTL(b->vcpu, KVM_SET_XCRS, &c->xcrs);
    IOCTL(b->vcpu, KVM_SET_DEBUGREGS, &c->debugregs);
    if (ioctl(b->vcpu, KVM_SET_MSRS, &c->msrs) != msr_count)
        die("KVM_SET_MSRS");
    IOCTL(b->vcpu, KVM_SET_VCPU_EVENTS, &c->events);
}

static inline void restore(struct bench_vm *b, struct context *c)
{
    restore_state(b, c, 1);
}

/* The saveable MSRs, minus those KVM refuses to read or write back here (as VcpuContext learns). */
static inline void learn_msrs(int kvm, int vcpu)
{
    struct { struct kvm_msr_list l; uint32_t i[MAX_MSRS]; } list = { .l.nmsrs = MAX_MSRS };
    IOCTL(kvm, KVM_GET_MSR_INDEX_LIST, &list);
    /* VcpuContext's order: IA32_TSC first, IA32_TSC_DEADLINE last, the rest as KVM lists them. */
    msr_count = 0;
    int deadline = 0;
    for (uint32_t i = 0; i < list.l.nmsrs && msr_count < MAX_MSRS; i++) {
        uint32_t m = list.l.indices[i];
        if (m == 0x6e0) {
            deadline = 1;
        } else if (m == 0x10) {
            memmove(&msr_index[1], &msr_index[0], msr_count * sizeof msr_index[0]);
            msr_index[0] = m;
            msr_count++;
        } else {
            msr_index[msr_count++] = m;
        }
    }
    if (deadline && msr_count < MAX_MSRS)
        msr_index[msr_count++] = 0x6e0;
    struct { struct kvm_msrs m; struct kvm_msr_entry e[MAX_MSRS]; } probe;
    for (int tries = 0; tries < MAX_MSRS; tries++) {
        probe.m.nmsrs = msr_count;
        for (int i = 0; i < msr_count; i++)
            probe.e[i].index = msr_index[i];
        int got = ioctl(vcpu, KVM_GET_MSRS, &probe);
        int set = got == msr_count ? ioctl(vcpu, KVM_SET_MSRS, &probe) : got;
        if (set == msr_count)
            return;
        memmove(&msr_index[set], &msr_index[set + 1], (msr_count - set - 1) * sizeof msr_index[0]);
        msr_count--;
    }
}

#endif
