/*
 * ring-peer.elf - sends and/or receives N messages of S bytes through the
 * shared region's rings (docs/shared-memory-abi.md, "Rings"), without an exit
 * per message: the benchmark's guest and the peer of the Java endpoint's tests.
 *
 * Boot-info arguments:
 *   arg0  messages N per direction         (default 100000)
 *   arg1  message bytes S, 8..1 MiB         (default 64)
 *   arg2  bits 0-15: peer + 1 (0 = the default: VM index ^ 1; the host's Java
 *         endpoint is peer <VM count>); bits 16-17: 1 send, 2 receive, 3 both
 *         (0 = the default: even VMs send, odd ones receive)
 *   arg3  polls of an idle ring before sleeping in WAIT (default 20000; 1 when
 *         both VMs share one host thread, where polling only delays the peer)
 *
 * Message seq (0..N-1) is the source buffer's S bytes (ring_pattern(i) for
 * byte i) with its first 8 bytes replaced by seq: the sender copies it with
 * `rep movsb` into a block and puts the block's handle on the ring; the
 * receiver checks seq and compares the rest against its own copy of the
 * source, then releases the entry (the block goes back to the sender).
 *
 * Host calls: one RINGS (where the rings are), batches of ALLOCs for the
 * sender's pool (about 16 MiB of blocks, 16..256 of them, fewer when the quota
 * or free space says so; 127 per exit), WAIT only after `arg3` idle polls, and at the end
 * FREEs (127 per exit) and one REPORT (verified, bytes, errors). Doorbells ring only when the
 * peer said it sleeps.
 *
 * A peer that breaks the ring (an impossible index or entry) or ends early
 * counts as one error, and this side stops using that ring. Prints
 *   ring-peer: vm=<i> peer=<p> send=<0|1> recv=<0|1> messages=<N> size=<S>
 *   ring-peer: sent=<n> verified=<n> errors=<e> waits=<WAITs> pool=<blocks>[ ticks=<t>]
 * where t (receivers only) is the TSC ticks from the first message seen to
 * the last one released: what the benchmark divides by, start-up left out.
 * and exits 0 if everything was sent and released and verified, else 1 (2:
 * bad arguments, boot info or ring area).
 *
 * Ring 3 only: the compare uses SSE2.
 */
#include "kvmctl_shm.h"
#include "shm-ring.h"

#define DEFAULT_MESSAGES    100000
#define DEFAULT_SIZE        64
#define DEFAULT_SPINS       20000
#define MAX_SIZE            (1u << 20)
#define MAX_POOL            256     /* blocks: the ring's size */
#define MIN_POOL            16
#define POOL_BYTES          (16u << 20) /* the pool aims at 16 MiB, within 16..256 blocks */
#define BATCH               32          /* entries per publish / release at most */
#define SHM_OP_RINGS        9

/* The sequence number's word: blocks are 64-byte aligned, but never trust that. */
typedef uint64_t ring_u64 __attribute__((aligned(1), may_alias));

static uint8_t source[MAX_SIZE] __attribute__((aligned(64)));
static uint64_t pool[MAX_POOL];         /* block offsets */
static uint32_t npool;
static uint64_t errors, waits;

static void say(const char *what)
{
    kvmctl_puts("ring-peer: ");
    kvmctl_puts(what);
    kvmctl_putc('\n');
}

/* The TSC: under KVM's PVM backend the host's, readable at ring 3. */
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static void copy_bytes(void *dst, const void *src, uint64_t n)
{
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

typedef uint64_t v2u64 __attribute__((vector_size(16)));

/* Whether n bytes at a and b are equal: 64 bytes per step with SSE2. */
static int same_bytes(const uint8_t *a, const uint8_t *b, uint64_t n)
{
    uint64_t i = 0;
    v2u64 diff = {0, 0};
    for (; i + 64 <= n; i += 64) {
        v2u64 a0, a1, a2, a3, b0, b1, b2, b3;
        __builtin_memcpy(&a0, a + i, 16);
        __builtin_memcpy(&a1, a + i + 16, 16);
        __builtin_memcpy(&a2, a + i + 32, 16);
        __builtin_memcpy(&a3, a + i + 48, 16);
        __builtin_memcpy(&b0, b + i, 16);
        __builtin_memcpy(&b1, b + i + 16, 16);
        __builtin_memcpy(&b2, b + i + 32, 16);
        __builtin_memcpy(&b3, b + i + 48, 16);
        diff |= (a0 ^ b0) | (a1 ^ b1) | (a2 ^ b2) | (a3 ^ b3);
        if ((i & 4095) == 4032 && (diff[0] | diff[1]))
            return 0;
    }
    uint8_t rest = 0;
    for (; i < n; i++)
        rest |= a[i] ^ b[i];
    return (diff[0] | diff[1] | rest) == 0;
}

/*
 * ALLOCs up to `want` blocks of `bytes`, 127 per exit; keeps those that came
 * and stops at the first refusal (quota or free space).
 */
static void fill_pool(uint64_t bytes, uint32_t want)
{
    while (npool < want) {
        uint32_t k = want - npool < SHM_MAX_REQUESTS ? want - npool : SHM_MAX_REQUESTS;
        shm_batch_begin();
        for (uint32_t i = 0; i < k; i++)
            shm_batch_add(SHM_OP_ALLOC, bytes, 0, 0);
        if (shm_batch_call() != SHM_OK)
            return;
        const struct shm_request *r = shm_mailbox()->req;
        int refused = 0;
        for (uint32_t i = 0; i < k; i++) {
            if (r[i].status == SHM_OK && shm_contains(r[i].a1, bytes))
                pool[npool++] = r[i].a1 - shm_base();  /* kept even after a refusal, so it is freed with the pool */
            else
                refused = 1;
        }
        if (refused)
            return;
    }
}

/* The pool's size for messages of `size` bytes: shm-ring.h's rule, which the host baseline follows too. */
static uint32_t pool_target(uint64_t size, uint64_t entries)
{
    uint64_t n = POOL_BYTES / size;
    if (n < MIN_POOL)
        n = MIN_POOL;
    if (n > MAX_POOL)
        n = MAX_POOL;
    return (uint32_t)(n < entries ? n : entries);
}

/* FREEs the pool, 127 blocks per exit. */
static void drain_pool(void)
{
    for (uint32_t from = 0; from < npool; from += SHM_MAX_REQUESTS) {
        uint32_t k = npool - from < SHM_MAX_REQUESTS ? npool - from : SHM_MAX_REQUESTS;
        shm_batch_begin();
        for (uint32_t i = 0; i < k; i++)
            shm_batch_add(SHM_OP_FREE, shm_base() + pool[from + i], 0, 0);
        if (shm_batch_call() != SHM_OK)
            errors++;
        for (uint32_t i = 0; i < k; i++)
            if (shm_mailbox()->req[i].status != SHM_OK)
                errors++;
    }
}

int main(const struct kvmctl_boot_info *info)
{
    if (shm_init(info) != 0) {
        say("needs a boot info with a shared region");
        return 2;
    }
    uint64_t n = info->arg[0] ? info->arg[0] : DEFAULT_MESSAGES;
    uint64_t size = info->arg[1] ? info->arg[1] : DEFAULT_SIZE;
    uint32_t me = shm_vm_index();
    uint32_t peer = (info->arg[2] & 0xffff) ? (uint32_t)(info->arg[2] & 0xffff) - 1 : me ^ 1;
    uint32_t role = (info->arg[2] >> 16) & 3;
    uint64_t spins = info->arg[3] ? info->arg[3] : DEFAULT_SPINS;
    if (role == 0)
        role = (me & 1) ? 2 : 1;
    int sending = role & 1, receiving = (role & 2) != 0;
    if (size < 8 || size > MAX_SIZE || peer == me || peer > shm_vm_count()) {
        say("bad arguments: size 8..1M, peer another VM or the host (VM count)");
        return 2;
    }

    shm_batch_begin();
    struct shm_request *rq = shm_batch_add(SHM_OP_RINGS, 0, 0, 0);
    if (shm_batch_call() != SHM_OK || rq->status != SHM_OK) {
        say("RINGS failed: no ring area");
        return 2;
    }
    uint64_t area = rq->a0, entries = rq->a1, peers = rq->a2;
    if (entries == 0 || entries > SHM_RING_MAX_ENTRIES || (entries & (entries - 1)) || peers != shm_vm_count() + 1
            || !shm_contains(area, peers * peers * shm_ring_bytes((uint32_t)entries))) {
        say("RINGS gave an impossible ring area");
        return 2;
    }
    uint64_t stride = shm_ring_bytes((uint32_t)entries);
    struct ring_tx tx;
    struct ring_rx rx;
    ring_tx_init(&tx, (struct shm_ring *)(uintptr_t)(area + (me * peers + peer) * stride), (uint32_t)entries);
    ring_rx_init(&rx, (struct shm_ring *)(uintptr_t)(area + (peer * peers + me) * stride), (uint32_t)entries,
                 shm_size());

    kvmctl_puts("ring-peer: vm=");
    kvmctl_put_dec(me);
    kvmctl_puts(" peer=");
    kvmctl_put_dec(peer);
    kvmctl_puts(" send=");
    kvmctl_put_dec(sending);
    kvmctl_puts(" recv=");
    kvmctl_put_dec(receiving);
    kvmctl_puts(" messages=");
    kvmctl_put_dec(n);
    kvmctl_puts(" size=");
    kvmctl_put_dec(size);
    kvmctl_putc('\n');

    for (uint64_t i = 0; i < size; i++)
        source[i] = ring_pattern(i);
    if (sending) {
        fill_pool(size, pool_target(size, entries));
        if (npool == 0) {
            say("no block for the pool (quota or free space)");
            sending = 0;
            errors++;
        }
    }

    uint64_t sent = 0, received = 0, bytes = 0, verified = 0, idle = 0;
    uint64_t first_tsc = 0, last_tsc = 0;   /* the receiver's first message seen, last one released */
    int tx_broken = !sending, rx_broken = !receiving, peer_gone = 0;
    for (;;) {
        int tx_done = tx_broken || (sent == n && ring_tx_in_flight(&tx) == 0);
        int rx_done = rx_broken || received == n;
        if (tx_done && rx_done)
            break;
        int progress = 0;
        int64_t space = 0, ready = 0;
        if (!tx_done) {
            space = ring_tx_free(&tx);
            if (space < 0) {
                say("the peer broke the outgoing ring (impossible tail)");
                tx_broken = 1;
                errors++;
                continue;
            }
            uint64_t k = n - sent;
            if (k > (uint64_t)space)
                k = (uint64_t)space;
            if (k > npool - ring_tx_in_flight(&tx))
                k = npool - ring_tx_in_flight(&tx);
            if (k > BATCH)
                k = BATCH;
            for (uint64_t i = 0; i < k; i++) {
                uint64_t off = pool[tx.head % npool];
                uint8_t *block = (uint8_t *)(uintptr_t)(shm_base() + off);
                copy_bytes(block, source, size);
                *(ring_u64 *)block = sent;
                ring_tx_put(&tx, off, (uint32_t)size);
                sent++;
            }
            if (k) {
                progress = 1;
                if (ring_tx_publish(&tx))
                    shm_ring(peer);
            }
        }
        if (!rx_done) {
            ready = ring_rx_ready(&rx);
            if (ready < 0) {
                say("the peer broke the incoming ring (impossible head)");
                rx_broken = 1;
                errors++;
                continue;
            }
            uint64_t k = (uint64_t)ready < BATCH ? (uint64_t)ready : BATCH;
            uint64_t done = 0;
            if (k && received == 0)
                first_tsc = rdtsc();
            for (; done < k; done++) {
                uint64_t off;
                uint32_t len;
                if (ring_rx_peek(&rx, done, &off, &len) != 0) {
                    say("the peer broke the incoming ring (entry outside the region)");
                    rx_broken = 1;
                    errors++;
                    break;
                }
                const uint8_t *msg = (const uint8_t *)(uintptr_t)(shm_base() + off);
                if (len == size && *(const volatile ring_u64 *)msg == received
                        && same_bytes(msg + 8, source + 8, size - 8)) {
                    verified++;
                    bytes += size;
                } else {
                    errors++;
                }
                received++;
            }
            if (done) {
                progress = 1;
                if (ring_rx_release(&rx, done))
                    shm_ring(peer);
                last_tsc = rdtsc();
            }
        }
        if (progress) {
            idle = 0;
            continue;
        }
        if (peer_gone) {
            /* The peer ended and a last look found nothing more: the exchange cannot finish. */
            say("the peer ended before the exchange did");
            errors++;
            break;
        }
        if (++idle < spins) {
            __builtin_ia32_pause();
            continue;
        }
        /* Idle for a while: say so on the rings we wait on, look once more, sleep. */
        idle = 0;
        int again = 0;
        if (!tx_done && ring_tx_prepare_sleep(&tx) != space)
            again = 1;
        if (!rx_done && ring_rx_prepare_sleep(&rx) != ready)
            again = 1;
        if (!again) {
            waits++;
            int s = shm_wait();
            if (s == SHM_NO_MORE_SENDERS) {
                /* The peer ended: what it published is still there; one more round, then stop. */
                peer_gone = 1;
            } else if (s != SHM_OK) {
                say("WAIT failed");
                errors++;
                break;
            }
        }
        if (!tx_done)
            ring_tx_awake(&tx);
        if (!rx_done)
            ring_rx_awake(&rx);
    }

    /* Every block came back (or the peer broke or ended): give the pool back in one exit. */
    drain_pool();
    if (shm_report(verified, bytes, errors) != SHM_OK)
        errors++;
    kvmctl_puts("ring-peer: sent=");
    kvmctl_put_dec(sent);
    kvmctl_puts(" verified=");
    kvmctl_put_dec(verified);
    kvmctl_puts(" errors=");
    kvmctl_put_dec(errors);
    kvmctl_puts(" waits=");
    kvmctl_put_dec(waits);
    kvmctl_puts(" pool=");
    kvmctl_put_dec(npool);
    if (receiving) {
        kvmctl_puts(" ticks=");
        kvmctl_put_dec(last_tsc - first_tsc);
    }
    kvmctl_putc('\n');
    int ok = errors == 0 && (!sending || sent == n) && (!receiving || verified == n);
    return ok ? 0 : 1;
}
