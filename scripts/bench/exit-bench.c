/*
 * The C baseline for kvmctl's exit benchmark (scripts/bench-exits.sh).
 *
 * Boots the same guest as java/src/jmh/java/dev/kvmctl/bench/ExitBench.java -- a ring-3 long-mode
 * loop of `out dx, al` to port 0x500, with kvmctl's boot layout (identity paging, GDT, TSS with an
 * all-ports I/O bitmap) -- and times, with plain ioctl calls:
 *   port-io-exit  one KVM_RUN that returns a KVM_EXIT_IO
 *   regs-get-set  one KVM_GET_REGS plus one KVM_SET_REGS
 * Prints "name ns/op ns/op ..." lines: ns per operation in each of ROUNDS rounds of ITERATIONS
 * operations, after one warm-up round (the script reports their median and min-max).
 */
#include "bench-common.h"

#define ROUNDS 7

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 100000;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm");
    uint8_t *mem = bench_ram();
    struct bench_vm b;
    bench_vm_create(kvm, mem, &b);
    int vcpu = b.vcpu;
    struct kvm_run *run = b.run;
    setup_long_mode(kvm, vcpu, mem);

    double exit_ns[ROUNDS], regs_ns[ROUNDS];
    long ports = 0;
    for (int round = -1; round < ROUNDS; round++) { /* round -1 warms up */
        double t0 = now_ns();
        for (long i = 0; i < iterations; i++) {
            if (ioctl(vcpu, KVM_RUN, 0) < 0)
                die("KVM_RUN");
            if (run->exit_reason != KVM_EXIT_IO) {
                fprintf(stderr, "exit-bench: unexpected exit %u\n", run->exit_reason);
                return 1;
            }
            ports += run->io.port;
        }
        double t1 = now_ns();
        struct kvm_regs regs;
        for (long i = 0; i < iterations; i++) {
            if (ioctl(vcpu, KVM_GET_REGS, &regs) < 0 || ioctl(vcpu, KVM_SET_REGS, &regs) < 0)
                die("KVM_GET_REGS/KVM_SET_REGS");
        }
        double t2 = now_ns();
        if (round >= 0) {
            exit_ns[round] = (t1 - t0) / iterations;
            regs_ns[round] = (t2 - t1) / iterations;
        }
    }
    print_rounds("port-io-exit", exit_ns, ROUNDS);
    print_rounds("regs-get-set", regs_ns, ROUNDS);
    fprintf(stderr, "(%ld exits to port 0x500)\n", ports / 0x500);
    return 0;
}
