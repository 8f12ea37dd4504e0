/*
 * The C baseline of scripts/bench-vm-lifecycle.sh: what a cold switch pays the kernel, step by
 * step. Creates and closes VMs one after another, each over the same memfd RAM (as kvmctl's
 * Machine and context-bench.c's cold switch do), and times each step of each VM as a single call:
 *   create-vm     KVM_CREATE_VM
 *   map-memory    KVM_SET_USER_MEMORY_REGION (slot 0, the 4 MiB of RAM)
 *   create-vcpu   KVM_CREATE_VCPU and the mmap of its kvm_run page
 *   close         munmap kvm_run, close the vCPU, close the VM
 *   total         the four together
 * after WARMUP VMs that are not counted. Usage: vm-lifecycle [ROUNDS [VMS_PER_ROUND]] (10, 30).
 * Prints "name us us ..." lines: the mean µs of the step in each round, sorted (the script reports
 * their median and min-max).
 */
#include "bench-common.h"

#define WARMUP 20
#define STEPS 5

static const char *const step_names[STEPS] = { "create-vm", "map-memory", "create-vcpu", "close", "total" };

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 10;
    long per_round = argc > 2 ? atol(argv[2]) : 30;
    if (rounds < 1 || per_round < 1) {
        fprintf(stderr, "usage: vm-lifecycle [ROUNDS [VMS_PER_ROUND]]\n");
        return 2;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm");
    uint8_t *mem = bench_ram();
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < 0)
        die("KVM_GET_VCPU_MMAP_SIZE");
    double *us[STEPS];
    for (int s = 0; s < STEPS; s++) {
        us[s] = calloc(rounds, sizeof us[s][0]);
        if (!us[s])
            die("calloc");
    }
    for (long i = -WARMUP; i < rounds * per_round; i++) {
        double t0 = now_ns();
        int vm = ioctl(kvm, KVM_CREATE_VM, 0);
        if (vm < 0)
            die("KVM_CREATE_VM");
        double t1 = now_ns();
        struct kvm_userspace_memory_region region = { .slot = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)mem };
        if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
            die("KVM_SET_USER_MEMORY_REGION");
        double t2 = now_ns();
        int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
        if (vcpu < 0)
            die("KVM_CREATE_VCPU");
        void *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
        if (run == MAP_FAILED)
            die("mmap kvm_run");
        double t3 = now_ns();
        munmap(run, run_size);
        close(vcpu);
        close(vm);
        double t4 = now_ns();
        if (i >= 0) {
            long r = i / per_round;
            us[0][r] += (t1 - t0) / 1000 / per_round;
            us[1][r] += (t2 - t1) / 1000 / per_round;
            us[2][r] += (t3 - t2) / 1000 / per_round;
            us[3][r] += (t4 - t3) / 1000 / per_round;
            us[4][r] += (t4 - t0) / 1000 / per_round;
        }
    }
    for (int s = 0; s < STEPS; s++)
        print_rounds(step_names[s], us[s], rounds);
    return 0;
}
