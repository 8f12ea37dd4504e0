/*
 * smp-counter.elf -- the vCPUs of an SMP guest talking through guest memory, for SMP,
 * switch and snapshot tests.
 *
 *   kvmctl launch --image smp-counter --cpus N [--arg HOPS [--arg STOP_WORD]]
 *
 * Ring 3, any number of vCPUs (1 works too). Every vCPU runs the same loop over memory they all
 * share: it adds 1 to a shared counter with a locked add (lock xadd), counting its own adds, and
 * when the shared token's value modulo N is its own index it passes the token on (token + 1),
 * counting its hops. So the token goes round the vCPUs in order, and only its holder writes it.
 *
 * Fixed work (no STOP_WORD): the loop ends when the token has gone HOPS times round (arg0,
 * default 1000): token = HOPS * N. Until stopped (arg1 = STOP_WORD, a guest-physical address,
 * 8-byte aligned, inside RAM and below the image, e.g. 0xff000): the loop ends when the host writes
 * a non-zero value to the u64 there; HOPS is then ignored. A test that needs N switches lets the
 * guest run until it has switched it N times, whatever the speed of the CPU.
 *
 * Then each vCPU publishes its counts and arrives at a barrier; vCPU 0 waits for all and checks
 * exactly what lock-free communication promises: the counter is the sum of every vCPU's adds (no
 * add lost), the token the sum of the hops, and vCPU i passed the token token/N times, once more
 * if i < token % N (it went round in order). vCPU 0 prints (and it alone prints)
 *
 *   smp-counter: cpus=<N> running state=<hex>   (before the loop)
 *   smp-counter: cpu <i> hops=<h> adds=<a>   (one line per vCPU)
 *   smp-counter: cpus=<N> token=<t> counter=<c> ok
 *
 * and exits 0. <hex> is the guest-physical address of the shared state, so the host can watch the
 * work go on: the counter is the u64 there, the token the u64 after it. Any check that fails prints "smp-counter: FAIL <what>" and exits 1. A bad STOP_WORD
 * or boot info exits 2. The other vCPUs park (spin on pause) once they have arrived.
 */
#include "kvmctl_guest.h"

#define DEFAULT_HOPS 1000

/* What the vCPUs share; the host may read the counter and token (see above). */
static volatile struct {
    uint64_t counter;
    uint64_t token;
    uint32_t arrived;
    uint64_t hops_of[KVMCTL_MAX_CPUS];
    uint64_t adds_of[KVMCTL_MAX_CPUS];
} shared;

#define counter shared.counter
#define token   shared.token
#define arrived shared.arrived
#define hops_of shared.hops_of
#define adds_of shared.adds_of

static void fail(const char *what)
{
    kvmctl_puts("smp-counter: FAIL ");
    kvmctl_puts(what);
    kvmctl_putc('\n');
    kvmctl_exit(1);
}

int main(const struct kvmctl_boot_info *info)
{
    if (!kvmctl_boot_info_valid(info) || info->cpu_count == 0 || info->cpu_count > KVMCTL_MAX_CPUS ||
        info->cpu_index >= info->cpu_count)
        return 2;
    uint32_t me = info->cpu_index, n = info->cpu_count;
    uint64_t addr = info->arg[1];
    if (addr != 0 && ((addr & 7) != 0 || addr + 8 > KVMCTL_IMAGE_BASE || addr < 0x1000))
        return 2;
    volatile uint64_t *stop = (volatile uint64_t *)addr;
    uint64_t target = addr != 0 ? UINT64_MAX : (info->arg[0] ? info->arg[0] : DEFAULT_HOPS) * n;

    if (me == 0) {
        kvmctl_puts("smp-counter: cpus=");
        kvmctl_put_dec(n);
        kvmctl_puts(" running state=");
        kvmctl_put_hex((uint64_t)(uintptr_t)&shared);
        kvmctl_putc('\n');
    }
    uint64_t hops = 0, adds = 0;
    for (;;) {
        uint64_t t = token;
        if (t >= target || (stop != 0 && *stop != 0))
            break;
        if (t % n == me) {
            token = t + 1; /* only the holder writes the token */
            hops++;
        }
        __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);
        adds++;
    }
    hops_of[me] = hops;
    adds_of[me] = adds;
    __atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
    if (me != 0)
        kvmctl_park();

    while (arrived != n)
        __asm__ volatile("pause" ::: "memory");
    uint64_t t = token, sum_hops = 0, sum_adds = 0;
    for (uint32_t i = 0; i < n; i++) {
        kvmctl_puts("smp-counter: cpu ");
        kvmctl_put_dec(i);
        kvmctl_puts(" hops=");
        kvmctl_put_dec(hops_of[i]);
        kvmctl_puts(" adds=");
        kvmctl_put_dec(adds_of[i]);
        kvmctl_putc('\n');
        sum_hops += hops_of[i];
        sum_adds += adds_of[i];
        if (hops_of[i] != t / n + (i < t % n ? 1 : 0))
            fail("the token did not go round in order");
    }
    if (sum_adds != counter)
        fail("the counter lost adds");
    if (sum_hops != t)
        fail("the token's hops do not add up");
    if (addr == 0 && t != target)
        fail("the token stopped short");
    kvmctl_puts("smp-counter: cpus=");
    kvmctl_put_dec(n);
    kvmctl_puts(" token=");
    kvmctl_put_dec(t);
    kvmctl_puts(" counter=");
    kvmctl_put_dec(counter);
    kvmctl_puts(" ok\n");
    return 0;
}
