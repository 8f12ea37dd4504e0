/*
 * start64.S - _start for long-mode C guests (ring 0 or ring 3).
 *
 * kvmctl enters here with RSP at the top of RAM and RDI = 0x1000, the boot-info
 * address (docs/guest-contract.md). We call
 *     int main(const struct kvmctl_boot_info *info)
 * with RDI untouched and report main's return value on the exit port, so a guest
 * that returns from main stops the VM with that status.
 *
 * Only general-purpose instructions here: at ring 0 this runs in KVM's emulator.
 */
#include "kvmctl_guest.h"

        .section .text.start, "ax", @progbits
        .globl  _start
        .type   _start, @function
_start:
        /* Keep the stack kvmctl gave us, but the SysV ABI wants RSP 16-byte
         * aligned at the call (the contract promises it; a flat loader with a
         * custom entry might not). */
        andq    $-16, %rsp
        xorl    %ebp, %ebp              /* end of the frame-pointer chain for debuggers */
        call    main
        movw    $KVMCTL_PORT_EXIT, %dx  /* status = main's return value, in EAX */
        outl    %eax, %dx
1:      pause                           /* kvmctl stops us at the out; never reached */
        jmp     1b
        .size   _start, . - _start

        .section .note.GNU-stack, "", @progbits
