/*
 * io-exits.bin - one of each kind of VM exit, in a fixed order, for the
 * integration tests. Real mode, flat, loaded and entered at 0x7c00:
 *
 *   kvmctl launch --image io-exits.bin --mode real
 *
 * The exact sequence of exits (tests assert it; keep it in sync):
 *
 *   1. IO  out  port 0x3f8, size 1, value 0x41 ('A')
 *   2. IO  in   port 0x60,  size 1             -> the runner answers V
 *   3. IO  out  port 0xe9,  size 1, value V     (echo of what the IN returned;
 *                                                 0xff when nobody answers)
 *   4. MMIO write  phys 0xd0000000, len 1, data 0x5a
 *   5. MMIO read   phys 0xd0000008, len 1       -> the runner answers M
 *   6. IO  out  port 0xe9,  size 1, value M     (echo of the MMIO read)
 *   7. HLT (interrupts off)                     -> run ends with status 0
 *
 * No other exits happen. 0xd0000000 must not be RAM (true for any RAM size
 * below 3.25 GiB) and must not lie in a memory slot.
 *
 * A real-mode segment reaches only 64 KiB, so to address 0xd0000000 we go
 * through "unreal mode": switch to protected mode just long enough to load FS
 * from a flat 4 GiB data descriptor, then switch back. FS keeps its 4 GiB limit
 * in real mode, and an addr32 prefix lets a 32-bit register address through it.
 * This works whatever limits kvmctl gave the real-mode segments.
 */
#include "kvmctl_guest.h"

#define MMIO_BASE       0xd0000000
#define FLAT_DATA_SEL   0x08            /* second GDT entry below */

        .code16
        .section .text.start, "ax", @progbits
        .globl  _start
_start:
        cli

        /* 1: serial out */
        movw    $KVMCTL_PORT_SERIAL, %dx
        movb    $'A', %al
        outb    %al, %dx

        /* 2, 3: read port 0x60 (keyboard data, unbacked) and echo it */
        inb     $0x60, %al
        outb    %al, $KVMCTL_PORT_DEBUG

        /* Unreal mode for FS. Causes no exit to userspace. */
        lgdtl   gdt_desc
        movl    %cr0, %eax
        orb     $1, %al                 /* PE */
        movl    %eax, %cr0
        movw    $FLAT_DATA_SEL, %bx
        movw    %bx, %fs                /* hidden FS: base 0, limit 4 GiB */
        andb    $0xfe, %al
        movl    %eax, %cr0              /* back to real mode; FS keeps its cache */

        /* 4: MMIO byte write */
        movl    $MMIO_BASE, %ebx
        addr32 movb $0x5a, %fs:(%ebx)

        /* 5, 6: MMIO byte read and echo it */
        addr32 movb %fs:8(%ebx), %al
        outb    %al, $KVMCTL_PORT_DEBUG

        /* 7 */
1:      hlt
        jmp     1b

        .p2align 3
gdt:
        .quad   0                       /* null */
        .quad   0x00cf93000000ffff      /* 0x08: data, base 0, limit 4 GiB, RW */
gdt_end:
gdt_desc:
        .word   gdt_end - gdt - 1
        .long   gdt

        .section .note.GNU-stack, "", @progbits
