/*
 * hello-long.elf - the smallest long-mode C guest.
 *
 * Prints "Hello from long mode, ring N\n" (N = the ring it runs at), then
 * "RAM: <bytes> bytes (<MiB> MiB)\n" from the boot-info page, and exits with
 * status 0 through port 0xf4. If the boot info lacks the magic it prints
 * "hello-long: bad boot info\n" and exits with status 2.
 *
 *   kvmctl launch --image hello-long.elf --mode long --ring 3
 *   kvmctl launch --image hello-long.elf --mode long --ring 0   (emulated, still quick)
 *
 * Built with -mgeneral-regs-only so that it also runs at ring 0, where KVM's
 * PVM backend emulates every instruction and rejects SSE.
 */
#include "kvmctl_guest.h"

int main(const struct kvmctl_boot_info *info)
{
    kvmctl_puts("Hello from long mode, ring ");
    kvmctl_put_dec(kvmctl_cpl());
    kvmctl_putc('\n');

    if (!kvmctl_boot_info_valid(info)) {
        kvmctl_puts("hello-long: bad boot info\n");
        return 2;
    }
    kvmctl_puts("RAM: ");
    kvmctl_put_dec(info->ram_size);
    kvmctl_puts(" bytes (");
    kvmctl_put_dec(info->ram_size >> 20);
    kvmctl_puts(" MiB)\n");
    return 0;
}
