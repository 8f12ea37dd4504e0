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
#include "bench-context.h"

#define ROUNDS 7

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
    learn_msrs(kvm, a.vcpu);
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
