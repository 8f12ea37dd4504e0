/*
 * The C baseline for kvmctl's exit benchmark (scripts/bench-exits.sh).
 *
 * Boots the same guest as java/src/jmh/java/dev/kvmctl/bench/ExitBench.java -- a ring-3 long-mode
 * loop of `out dx, al` to port 0x500, with kvmctl's boot layout (identity paging, GDT, TSS with an
 * all-ports I/O bitmap) -- and times, with plain ioctl calls:
 *   port-io-exit  one KVM_RUN that returns a KVM_EXIT_IO
 *   regs-get-set  one KVM_GET_REGS plus one KVM_SET_REGS
 * Prints "name ns/op" lines: the median of ROUNDS rounds of ITERATIONS operations each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE (4u << 20)
#define ROUNDS 7

static void die(const char *what)
{
    fprintf(stderr, "exit-bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The boot layout of dev.kvmctl.guests.BootSetup (docs/guest-contract.md), ring 3. */
static void setup_long_mode(int kvm, int vcpu, uint8_t *mem)
{
    uint64_t *pml4 = (uint64_t *)(mem + 0x6000), *pdpt = (uint64_t *)(mem + 0x7000);
    uint64_t *pd = (uint64_t *)(mem + 0x8000), *gdt = (uint64_t *)(mem + 0x2000);
    pml4[0] = 0x7000 | 7;
    pdpt[0] = 0x8000 | 7;
    for (int i = 0; i < 512; i++)
        pd[i] = ((uint64_t)i << 21) | 0x87;
    gdt[1] = 0x00af9b000000ffffULL;
    gdt[2] = 0x00cf93000000ffffULL;
    gdt[3] = 0x00affb000000ffffULL;
    gdt[4] = 0x00cff3000000ffffULL;
    uint32_t tss_limit = 0x68 + 65536 / 8;
    gdt[5] = (tss_limit & 0xffff) | (0x3000ULL << 16) | (0xbULL << 40) | (1ULL << 47) | ((uint64_t)(tss_limit >> 16) << 48);
    *(uint16_t *)(mem + 0x3066) = 0x68;
    mem[0x3000 + tss_limit] = 0xff;

    struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cpuid = { .c.nent = 256 };
    if (ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &cpuid) < 0 || ioctl(vcpu, KVM_SET_CPUID2, &cpuid) < 0)
        die("cpuid");
    struct kvm_sregs s;
    if (ioctl(vcpu, KVM_GET_SREGS, &s) < 0)
        die("KVM_GET_SREGS");
    struct kvm_segment code = { .limit = 0xffffffff, .selector = 0x1b, .type = 11, .present = 1, .dpl = 3, .s = 1, .l = 1, .g = 1 };
    struct kvm_segment data = { .limit = 0xffffffff, .selector = 0x23, .type = 3, .present = 1, .dpl = 3, .db = 1, .s = 1, .g = 1 };
    struct kvm_segment tr = { .base = 0x3000, .limit = tss_limit, .selector = 0x28, .type = 11, .present = 1 };
    s.cs = code;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.tr = tr;
    s.gdt.base = 0x2000;
    s.gdt.limit = 7 * 8 - 1;
    s.cr3 = 0x6000;
    s.cr4 = 0x620;
    s.cr0 = 0x80010033;
    s.efer = 0xd01;
    if (ioctl(vcpu, KVM_SET_SREGS, &s) < 0)
        die("KVM_SET_SREGS");
    struct kvm_regs r = { .rip = 0x100000, .rsp = RAM_SIZE, .rdi = 0x1000, .rflags = 0x3002 };
    if (ioctl(vcpu, KVM_SET_REGS, &r) < 0)
        die("KVM_SET_REGS");
}

int main(int argc, char **argv)
{
    long iterations = argc > 1 ? atol(argv[1]) : 100000;
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm");
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (vm < 0)
        die("KVM_CREATE_VM");
    uint8_t *mem = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (mem == MAP_FAILED)
        die("mmap");
    struct kvm_userspace_memory_region region = { .slot = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)mem };
    if (ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    static const uint8_t loop[] = { 0x66, 0xba, 0x00, 0x05, /* mov dx, 0x500 */
                                    0xee,                   /* out dx, al */
                                    0xeb, 0xfd };           /* jmp back to the out */
    memcpy(mem + 0x100000, loop, sizeof loop);
    int vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
    if (vcpu < 0)
        die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    struct kvm_run *run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
    if (run == MAP_FAILED)
        die("mmap kvm_run");
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
    qsort(exit_ns, ROUNDS, sizeof exit_ns[0], compare);
    qsort(regs_ns, ROUNDS, sizeof regs_ns[0], compare);
    printf("port-io-exit %.1f\n", exit_ns[ROUNDS / 2]);
    printf("regs-get-set %.1f\n", regs_ns[ROUNDS / 2]);
    fprintf(stderr, "(%ld exits to port 0x%lx)\n", ports / 0x500, ports ? 0x500L : 0L);
    return 0;
}
