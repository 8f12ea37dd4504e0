/*
 * hello-real.bin - the smallest real-mode guest.
 *
 * Prints "Hello from real mode\n" on the serial port (0x3f8), then executes
 * `hlt`, which ends the run with status 0.
 *
 *   kvmctl launch --image hello-real.bin --mode real   (loaded and entered at 0x7c00)
 *
 * Linked at offset 0x7c00 and addresses its string through DS = CS, so it runs
 * wherever IP = 0x7c00 (CS = 0 by default). Every instruction is emulated by KVM
 * under the PVM backend, so it stays a short loop.
 */
#include "kvmctl_guest.h"

        .code16
        .section .text.start, "ax", @progbits
        .globl  _start
_start:
        pushw   %cs
        popw    %ds
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
