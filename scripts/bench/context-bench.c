/*
 * The C baseline for kvmctl's context benchmark (scripts/bench-contexts.sh).
 *
 * Two VMs run the benchmark guest of bench-common.h. With plain ioctls, in the order of
 * dev.kvmctl.contexts (hypervisor level, then the vCPU in Firecracker's order), it times:
 *   ioctl         one KVM_GET_MP_STATE: the cost of a vCPU ioctl on this machine
 *   capture       KVM_GET_CLOCK, then MP state, regs, sregs, XSAVE, XCRs, debug regs, TSC kHz,
 *                 CPUID, every saveable MSR, vCPU events
 *   restore       KVM_SET_CLOCK, then CPUID, MP state, regs, sregs, XSAVE, XCRs, debug regs,
 *                 MSRs, vCPU events
 *   warm-switch   capture VM A, restore VM B
 *   cold-switch   capture VM A, close it, create a new VM over A's memory with its vCPU, restore
 * No in-kernel irqchip, as kvmctl's machines by default: so no LAPIC, and the MSRs KVM refuses
 * without one are left out, as VcpuContext does.
 * Prints "name ns/op ns/op ..." lines: ns per operation in each of ROUNDS rounds, after one
 * warm-up round (the script reports their median and min-max).
 */
#include "bench-common.h"

#define ROUNDS 7
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

static void capture(struct bench_vm *b, struct context *c)
{
    IOCTL(b->vm, KVM_GET_CLOCK, &c->clock);
    IOCTL(b->vcpu, KVM_GET_MP_STATE, &c->mp);
    IOCTL(b->vcpu, KVM_GET_REGS, &c->regs);
    IOCTL(b->vcpu, KVM_GET_SREGS, &c->sregs);
    IOCTL(b->vcpu, KVM_GET_XSAVE, &c->xsave);
    IOCTL(b->vcpu, KVM_GET_XCRS, &c->xcrs);
    IOCTL(b->vcpu, KVM_GET_DEBUGREGS, &c->debugregs);
    c->tsc_khz = ioctl(b->vcpu, KVM_GET_TSC_KHZ, 0);
    c->cpuid.c.nent = 256;
    IOCTL(b->vcpu, KVM_GET_CPUID2, &c->cpuid);
    c->msrs.m.nmsrs = msr_count;
    for (int i = 0; i < msr_count; i++)
        c->msrs.e[i].index = msr_index[i];
    if (ioctl(b->vcpu, KVM_GET_MSRS, &c->msrs) != msr_count)
        die("KVM_GET_MSRS");
    IOCTL(b->vcpu, KVM_GET_VCPU_EVENTS, &c->events);
}

static void restore(struct bench_vm *b, struct context *c)
{
    c->clock.flags = 0;
    IOCTL(b->vm, KVM_SET_CLOCK, &c->clock);
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

/* The saveable MSRs, minus those KVM refuses to read or write back here (as VcpuContext learns). */
static void learn_msrs(int kvm, struct bench_vm *b)
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
        int got = ioctl(b->vcpu, KVM_GET_MSRS, &probe);
        int set = got == msr_count ? ioctl(b->vcpu, KVM_SET_MSRS, &probe) : got;
        if (set == msr_count)
            return;
        memmove(&msr_index[set], &msr_index[set + 1], (msr_count - set - 1) * sizeof msr_index[0]);
        msr_count--;
    }
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 2000;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm");
    uint8_t *mem_a = bench_ram(), *mem_b = bench_ram();
    struct bench_vm a, b;
    bench_vm_create(kvm, mem_a, &a);
    bench_vm_create(kvm, mem_b, &b);
    setup_long_mode(kvm, a.vcpu, mem_a);
    setup_long_mode(kvm, b.vcpu, mem_b);
    for (int i = 0; i < 3; i++) {
        IOCTL(a.vcpu, KVM_RUN, 0);
        IOCTL(b.vcpu, KVM_RUN, 0);
    }
    learn_msrs(kvm, &a);
    static struct context ca, cb;
    capture(&a, &ca);
    capture(&b, &cb);

    double t_ioctl[ROUNDS], t_capture[ROUNDS], t_restore[ROUNDS], t_warm[ROUNDS], t_cold[ROUNDS];
    struct kvm_mp_state mp;
    for (int r = -1; r < ROUNDS; r++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            IOCTL(a.vcpu, KVM_GET_MP_STATE, &mp);
        double t1 = now_ns();
        for (long i = 0; i < n; i++)
            capture(&a, &ca);
        double t2 = now_ns();
        for (long i = 0; i < n; i++)
            restore(&a, &ca);
        double t3 = now_ns();
        for (long i = 0; i < n; i++) {
            capture(&a, &ca);
            restore(&b, &cb);
        }
        double t4 = now_ns();
        long cold = n / 10 > 0 ? n / 10 : 1;
        for (long i = 0; i < cold; i++) {
            capture(&a, &ca);
            bench_vm_destroy(&a);
            bench_vm_create(kvm, mem_a, &a);
            restore(&a, &ca);
        }
        double t5 = now_ns();
        if (r >= 0) {
            t_ioctl[r] = (t1 - t0) / n;
            t_capture[r] = (t2 - t1) / n;
            t_restore[r] = (t3 - t2) / n;
            t_warm[r] = (t4 - t3) / n;
            t_cold[r] = (t5 - t4) / cold;
        }
    }
    print_rounds("ioctl", t_ioctl, ROUNDS);
    print_rounds("capture", t_capture, ROUNDS);
    print_rounds("restore", t_restore, ROUNDS);
    print_rounds("warm-switch", t_warm, ROUNDS);
    print_rounds("cold-switch", t_cold, ROUNDS);
    fprintf(stderr, "(%d MSRs per context)\n", msr_count);
    return 0;
}
