/*
 * fault.elf - a guest that faults on purpose.
 *
 * Prints "about to fault\n", then writes to virtual address 0x100000000000
 * (16 TiB). kvmctl identity-maps only up to RAM and the shared slots (rounded up
 * to 1 GiB), far below that, so the write raises a page fault; with no IDT the
 * fault escalates to a triple fault and kvmctl reports the run as faulted
 * (non-zero status, register dump on stderr). It never exits through port 0xf4:
 * if the write somehow succeeds it exits with status 99 so tests notice.
 *
 *   kvmctl launch --image fault.elf --mode long --ring 3
 *
 * General registers only, so it faults the same way at ring 0.
 */
#include "kvmctl_guest.h"

#define UNMAPPED_ADDR 0x100000000000ull /* canonical, well above any mapping */

int main(const struct kvmctl_boot_info *info)
{
    (void)info;
    kvmctl_puts("about to fault\n");
    *(volatile uint64_t *)UNMAPPED_ADDR = 0xdeadbeef;
    kvmctl_puts("fault: the write to 16 TiB did not fault\n");
    return 99;
}
