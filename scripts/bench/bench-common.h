/*
 * Shared by the C baselines in scripts/bench/: the VM set-up of dev.kvmctl.guests.BootSetup
 * (docs/guest-contract.md) for a ring-3 long-mode guest, and small helpers.
 */
#ifndef KVMCTL_BENCH_COMMON_H
#define KVMCTL_BENCH_COMMON_H

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
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define RAM_SIZE (4u << 20)

static inline void die(const char *what)
{
    fprintf(stderr, "bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

static inline double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static inline int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One result line: "name v1 v2 ... vn", the rounds sorted (scripts/bench/stats.py reads them). */
static inline void print_rounds(const char *name, double *v, int n)
{
    qsort(v, n, sizeof v[0], compare_double);
    printf("%s", name);
    for (int i = 0; i < n; i++)
        printf(" %.1f", v[i]);
    printf("\n");
}

/* The boot layout of dev.kvmctl.guests.BootSetup (docs/guest-contract.md), ring 3. */
static inline void setup_long_mode(int kvm, int vcpu, uint8_t *mem)
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


/* The benchmark guest: `mov dx, 0x500; out dx, al; jmp back to the out`. */
static const uint8_t bench_loop[] = { 0x66, 0xba, 0x00, 0x05, 0xee, 0xeb, 0xfd };

struct bench_vm {
    int vm, vcpu, run_size;
    uint8_t *mem;
    struct kvm_run *run;
};

/* A VM over `mem` (RAM_SIZE bytes, already holding the guest) with one vCPU and its kvm_run mapped. */
static inline void bench_vm_create(int kvm, uint8_t *mem, struct bench_vm *b)
{
    b->mem = mem;
    b->vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (b->vm < 0)
        die("KVM_CREATE_VM");
    struct kvm_userspace_memory_region region = { .slot = 0, .memory_size = RAM_SIZE, .userspace_addr = (uint64_t)mem };
    if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
    if (b->vcpu < 0)
        die("KVM_CREATE_VCPU");
    b->run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    b->run = mmap(NULL, b->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
    if (b->run == MAP_FAILED)
        die("mmap kvm_run");
}

static inline void bench_vm_destroy(struct bench_vm *b)
{
    munmap(b->run, b->run_size);
    close(b->vcpu);
    close(b->vm);
}

/* Guest RAM as kvmctl's Machine makes it: a memfd, mapped shared. */
static inline uint8_t *bench_ram(void)
{
    int fd = memfd_create("bench-ram", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, RAM_SIZE) < 0)
        die("memfd_create");
    uint8_t *mem = mmap(NULL, RAM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        die("mmap");
    close(fd);
    memcpy(mem + 0x100000, bench_loop, sizeof bench_loop);
    return mem;
}

#endif
