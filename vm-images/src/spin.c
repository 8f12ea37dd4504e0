/*
 * spin.elf - a guest that never stops on its own.
 *
 * Prints "spinning\n", then loops forever without any VM exit; tests use it to
 * check that --timeout (and stopping a VM from outside) works.
 *
 *   kvmctl launch --image spin.elf --mode long --ring 3 --timeout 1s
 *
 * At ring 3 the loop runs natively; at ring 0 it also works but keeps KVM's
 * emulator busy. General registers only.
 */
#include "kvmctl_guest.h"

int main(const struct kvmctl_boot_info *info)
{
    (void)info;
    kvmctl_puts("spinning\n");
    for (;;)
        __asm__ volatile("pause" ::: "memory");
}
