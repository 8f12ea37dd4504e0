/*
 * kvmctl_guest.h - the guest side of docs/guest-contract.md, for guests written
 * in C (and, for the constants, in assembly: this header may be included from a
 * .S file).
 *
 * Writing your own long-mode guest
 * --------------------------------
 *   #include "kvmctl_guest.h"
 *
 *   int main(const struct kvmctl_boot_info *info)
 *   {
 *       kvmctl_puts("RAM: ");
 *       kvmctl_put_dec(info->ram_size >> 20);
 *       kvmctl_puts(" MiB\n");
 *       return 0;                     // becomes kvmctl's exit status
 *   }
 *
 * Build it like the images in this directory (see the Makefile): compile with
 * -ffreestanding -nostdlib -mno-red-zone -fno-pic and -Iinclude, link with
 * lib/start64.S (the _start that calls main and reports its return value on the
 * exit port), lib/string.c (memcpy/memset/memmove/memcmp, which gcc may call
 * even when the source does not) and the linker script link/long.ld (loads at
 * physical 0x100000). Then:
 *
 *   kvmctl launch --image my-guest.elf --mode long --ring 3
 *
 * Ring 3 or ring 0?
 *   Everything in this header works at either ring. Under KVM's PVM backend
 *   ring-0 code is run by KVM's instruction emulator, which is slow (about a
 *   million instructions a second) and rejects SSE/AVX: code that may run at
 *   ring 0 must be compiled with -mgeneral-regs-only. Ring-3 code runs natively
 *   and may use SSE2 always, and AVX where CPUID and XGETBV say so (see
 *   src/sse-compute.c). Under PVM, CPUID at ring 3 is not intercepted and
 *   reports the host CPU, not the vCPU's CPUID. There is no IDT: any exception
 *   (a page fault, #UD, hlt at ring 3, ...) ends the run as a fault.
 *
 * Memory
 *   Guest-physical memory [0, top) is identity-mapped, so a pointer is a
 *   physical address. RAM starts at 0, the image at 0x100000, and the stack
 *   starts at the top of RAM (growing down). The .bss of an ELF image is zeroed
 *   by kvmctl's loader; nothing else is.
 *
 * I/O
 *   kvmctl_putc() and friends write to the serial THR (port 0x3f8) without
 *   polling the LSR: kvmctl's 8250 is always ready. Each byte written is one
 *   VM exit, so print summaries, not streams. kvmctl_exit() writes the status
 *   to port 0xf4, which stops the VM at once.
 */
#ifndef KVMCTL_GUEST_H
#define KVMCTL_GUEST_H

/* Ports (see "Talking to kvmctl" in the contract). */
#define KVMCTL_PORT_SERIAL      0x3f8   /* out byte: serial console (8250 THR) */
#define KVMCTL_PORT_SERIAL_LSR  0x3fd   /* in: 8250 LSR, always 0x60 */
#define KVMCTL_PORT_DEBUG       0xe9    /* out byte: debug console */
#define KVMCTL_PORT_EXIT        0xf4    /* out byte/word/dword: stop, exit status */

/* Fixed addresses of the long-mode boot area. */
#define KVMCTL_BOOT_INFO_ADDR   0x1000
#define KVMCTL_BOOT_INFO_MAGIC  0x4b564d43u     /* "KVMC" as a little-endian u32 */
#define KVMCTL_BOOT_INFO_VERSION 2      /* 2 added cpu_index and cpu_count */
#define KVMCTL_BOOT_INFO_STRIDE 128     /* vCPU i's copy is at KVMCTL_BOOT_INFO_ADDR + i * this */
#define KVMCTL_MAX_CPUS         32      /* the copies fill one page */
#define KVMCTL_STACK_PER_CPU    0x10000 /* vCPU i's stack starts i * this below the top of RAM */
#define KVMCTL_IMAGE_BASE       0x100000        /* default load address, long mode */
#define KVMCTL_REAL_MODE_BASE   0x7c00          /* default load address, real mode */

#ifndef __ASSEMBLER__

#include <stddef.h>
#include <stdint.h>

/*
 * The boot info, at guest-physical (= virtual) 0x1000 in long mode for vCPU 0,
 * and KVMCTL_BOOT_INFO_STRIDE bytes further for each next vCPU of an SMP guest:
 * every vCPU enters _start with its own copy's address in RDI (and its own
 * stack), and _start passes it to main(). Layout and meaning exactly as in
 * docs/guest-contract.md. Check magic (and version) before trusting it; the
 * cpu fields are there from version 2.
 */
struct kvmctl_boot_info {
    uint32_t magic;         /*  0: KVMCTL_BOOT_INFO_MAGIC */
    uint32_t version;       /*  4: 1 */
    uint64_t ram_size;      /*  8: RAM size in bytes */
    uint64_t shared_base;   /* 16: shared region guest-physical base (0 if none) */
    uint64_t shared_size;   /* 24: shared region size in bytes (0 if none) */
    uint32_t vm_index;      /* 32: this VM's index among those kvmctl started */
    uint32_t vm_count;      /* 36: number of VMs */
    uint64_t arg[4];        /* 40: launch --arg values, in order (0 if not given) */
    uint32_t cpu_index;     /* 72: this vCPU's index, from 0 (version 2) */
    uint32_t cpu_count;     /* 76: the VM's vCPUs, launch --cpus (version 2) */
};

_Static_assert(sizeof(struct kvmctl_boot_info) == 80, "boot info layout");
_Static_assert(offsetof(struct kvmctl_boot_info, cpu_index) == 72, "boot info layout");
_Static_assert(offsetof(struct kvmctl_boot_info, ram_size) == 8, "boot info layout");
_Static_assert(offsetof(struct kvmctl_boot_info, vm_index) == 32, "boot info layout");
_Static_assert(offsetof(struct kvmctl_boot_info, arg) == 40, "boot info layout");

/* The entry point every C guest provides; its return value is the exit status. */
int main(const struct kvmctl_boot_info *info);

static inline int kvmctl_boot_info_valid(const struct kvmctl_boot_info *info)
{
    return info != NULL && info->magic == KVMCTL_BOOT_INFO_MAGIC &&
           info->version >= KVMCTL_BOOT_INFO_VERSION;
}

/*
 * Spins without exiting to the host (pause, not hlt: hlt faults at ring 3): what
 * an SMP guest's vCPU does when its work is done and another vCPU will end the
 * VM through the exit port.
 */
__attribute__((noreturn)) static inline void kvmctl_park(void)
{
    for (;;)
        __asm__ volatile("pause" ::: "memory");
}

/*
 * Port I/O. Each access is a VM exit. At ring 3 these work only because kvmctl
 * grants the guest I/O permission (see the contract); without it they fault.
 */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port) : "memory");
    return v;
}

/*
 * Current privilege level (0 or 3): the low bits of CS. Only the RPL is
 * meaningful; the selector value itself is not (under KVM's PVM backend a
 * ring-3 guest sees the host's user selectors, 0x33 and 0x2b).
 */
static inline unsigned kvmctl_cpl(void)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    return cs & 3;
}

/*
 * Stops the VM: kvmctl exits with `status`. Written as a dword so that kvmctl
 * sees the whole value; the loop is never reached in practice but keeps the
 * function honest about not returning. (`pause`, not `hlt`: hlt faults at ring 3.)
 */
__attribute__((noreturn)) static inline void kvmctl_exit(uint32_t status)
{
    outl(KVMCTL_PORT_EXIT, status);
    for (;;)
        __asm__ volatile("pause");
}

static inline void kvmctl_putc(char c)
{
    outb(KVMCTL_PORT_SERIAL, (uint8_t)c);
}

static inline void kvmctl_puts(const char *s)
{
    while (*s)
        kvmctl_putc(*s++);
}

/* "0x" followed by the value in lower-case hex, without leading zeros. */
static inline void kvmctl_put_hex(uint64_t v)
{
    char buf[16];
    int n = 0;
    do {
        buf[n++] = "0123456789abcdef"[v & 15];
        v >>= 4;
    } while (v);
    kvmctl_putc('0');
    kvmctl_putc('x');
    while (n)
        kvmctl_putc(buf[--n]);
}

/* Exactly 16 hex digits, no prefix: for checksums that tests compare as text. */
static inline void kvmctl_put_hex64(uint64_t v)
{
    for (int shift = 60; shift >= 0; shift -= 4)
        kvmctl_putc("0123456789abcdef"[(v >> shift) & 15]);
}

/* Unsigned decimal. */
static inline void kvmctl_put_dec(uint64_t v)
{
    char buf[20];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        kvmctl_putc(buf[--n]);
}

/* lib/string.c: gcc may emit calls to these even in freestanding code. */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#endif /* !__ASSEMBLER__ */
#endif /* KVMCTL_GUEST_H */
