/*
 * hello-real.bin - the smallest real-mode guest.
 *
 * Prints "Hello from real mode\n" on the serial port (0x3f8), then executes
 * `hlt`, which ends the run with status 0.
 *
 *   kvmctl launch --mode real hello-real.bin        (loaded and entered at 0x7c00)
 *
 * Relies on CS = DS = 0 as the contract sets them: the string is addressed with
 * its linked (0x7c00-based) offset. Every instruction is emulated by KVM under
 * the PVM backend, so it stays a short loop.
 */
#include "kvmctl_guest.h"

        .code16
        .section .text.start, "ax", @progbits
        .globl  _start
_start:
        cld                             /* lodsb must walk forwards */
        movw    $msg, %si
        movw    $KVMCTL_PORT_SERIAL, %dx
1:      lodsb
        testb   %al, %al
        jz      2f
        outb    %al, %dx
        jmp     1b
2:      hlt
        jmp     2b                      /* if something wakes us, halt again */

msg:    .asciz  "Hello from real mode\n"

        .section .note.GNU-stack, "", @progbits
