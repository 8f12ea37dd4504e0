/*
 * producer.elf - sends N checkable messages through the shared region to the
 * next VM (docs/shared-memory-abi.md); consumer.elf is its other half.
 *
 * Boot-info arguments (0 = the default):
 *   arg0  messages N                    (default 1000)
 *   arg1  seed                          (default 1; the consumer needs the same)
 *   arg2  maximum payload bytes         (default 262144); with bit 63 set, every
 *         payload is exactly the low bits' size (for throughput by message size)
 *   arg3  fault after this many messages (default 0 = never)
 *
 * Destination: VM (own index + 1) % VM count. Message seq (0..N-1) is a block
 * of 16 + len bytes, len log-uniform in [1, max] (format, payload and
 * checksum in shm-message.h), SENT with length 16 + len. It keeps up to 16
 * messages in hand: each call SENDs every message written since the last one
 * and ALLOCs blocks for up to 16 more, which it writes before the next call;
 * after each call it rings the destination's doorbell once. So a message
 * costs a fraction of an exit when there is space, and messages still go out
 * in seq order. Only when it holds no block at all and ALLOC says NO_SPACE,
 * or QUOTA (its blocks still in flight use up its quota: it pays for each
 * message until the consumer frees it), does it WAIT (the consumer rings after
 * its FREEs) and ALLOC again, both in one call, until the block fits; a QUOTA
 * with none of its quota in use can never pass, and fails. ALLOCs that
 * succeed after one that did not (a smaller block fitting where a larger did
 * not) are FREEd in the next call, so that blocks always come in seq order.
 *
 * Prints
 *   producer: vm=<i> dest=<d> messages=<N> seed=<s> max=<m>
 *   producer: sent=<N> bytes=<payload bytes> waits=<WAITs for space>
 * and exits with status 0. Any unexpected status prints
 *   producer: <OP> seq=<seq> failed: <STATUS>
 * and exits with status 1 (2: bad boot info, no shared region, or fewer than
 * two VMs).
 *
 * With arg3 = K > 0 (K < N) it sends messages 0..K-1, and with at least the
 * block for message K allocated (up to 16) prints
 * "producer: faulting after <K> messages" and writes to 16 TiB, far above any
 * mapping: the VM dies with a triple fault while it owns blocks, which the host
 * must reclaim (tests check that). The consumer then verifies K messages and
 * gets NO_MORE_SENDERS.
 *
 *   kvmctl launch --messages 200 --seed 7 --shared-size 4M --max-message 64K
 *
 * kvmctl launch with no --image is the shared-memory demo: this image as VM 0
 * with arguments (messages, seed, max-message, 0) and consumer.elf as
 * VM 1, on one region, at ring 3. The fault point is for tests, which boot the
 * two on a SharedRegion with SharedMemoryHub themselves.
 *
 * Ring 3: it writes up to 256 KiB per message, which is native speed at ring 3
 * and emulated at ring 0. General registers only: 64-bit multiplies gain
 * nothing from SSE2.
 */
#include "kvmctl_shm.h"
#include "shm-message.h"

#define DEFAULT_MESSAGES    1000
#define DEFAULT_SEED        1
#define DEFAULT_MAX_PAYLOAD 262144
#define WINDOW              16      /* blocks in hand at most; 3 * WINDOW <= 127 requests */
#define UNMAPPED_ADDR       0x100000000000ull   /* 16 TiB, as in fault.c */

static uint64_t seed;
static uint32_t max_len, me;

/* Blocks in hand, for messages [next_send, next_alloc), at seq % WINDOW. */
static struct { uint64_t gpa, size; } held[WINDOW];
static uint32_t next_send, next_alloc;
/* Blocks ALLOCated out of order, to FREE in the next call. */
static uint64_t spare[WINDOW];
static uint32_t nspare;
static uint64_t waits;

static void fail(const char *op, uint32_t seq, int status)
{
    kvmctl_puts("producer: ");
    kvmctl_puts(op);
    kvmctl_puts(" seq=");
    kvmctl_put_dec(seq);
    kvmctl_puts(" failed: ");
    kvmctl_puts(shm_status_name(status));
    kvmctl_putc('\n');
    kvmctl_exit(1);
}

/* Set by arg2's bit 63: every payload is max_len bytes. */
static int fixed_len;

static uint32_t payload_len(uint32_t seq)
{
    return fixed_len ? max_len : msg_payload_size(seed, seq, max_len);
}

/* Writes message `seq` into the block at `gpa` (which holds 16 + len bytes). */
static void write_message(uint64_t gpa, uint32_t seq, uint32_t len)
{
    uint8_t *block = (uint8_t *)(uintptr_t)gpa;
    msg_u64 *words = (msg_u64 *)(block + MSG_HEADER_SIZE);
    uint64_t key = msg_key(seed, seq, me);
    uint32_t full = len / 8, tail = len % 8;
    uint64_t h = MSG_FNV_BASIS;

    for (uint32_t i = 0; i < full; i++) {
        uint64_t w = msg_word(key, i);
        words[i] = w;
        h = msg_hash_step(h, w);
    }
    if (tail) {
        /* Byte stores: the block may end right after the payload. */
        uint64_t w = msg_low_bytes(msg_word(key, full), tail);
        for (uint32_t b = 0; b < tail; b++)
            block[MSG_HEADER_SIZE + 8 * full + b] = (uint8_t)(w >> (8 * b));
        h = msg_hash_step(h, w);
    }
    struct msg_header *hdr = (struct msg_header *)block;
    hdr->magic = MSG_MAGIC;
    hdr->seq = seq;
    hdr->len = len;
    hdr->checksum = msg_hash_final(h, len);
}

/* The block the host gave for message next_alloc: check it, write the message. */
static void take_block(uint64_t gpa, uint64_t size)
{
    uint32_t seq = next_alloc, len = payload_len(seq);

    if (!shm_contains(gpa, size) || size < MSG_HEADER_SIZE + len) {
        kvmctl_puts("producer: ALLOC gave a block outside the region or too small\n");
        kvmctl_exit(1);
    }
    held[seq % WINDOW].gpa = gpa;
    held[seq % WINDOW].size = size;
    write_message(gpa, seq, len);
    next_alloc++;
}

/*
 * Nothing in hand: ALLOC the next block, and while that says NO_SPACE, WAIT
 * for a doorbell and ALLOC again in one exit. A wake-up does not promise
 * enough space (the consumer rings after any FREE, and free space may be
 * fragmented), hence the loop. Pending spares are freed in the first call.
 */
static void alloc_waiting(void)
{
    uint64_t bytes = MSG_HEADER_SIZE + payload_len(next_alloc);
    int wait = 0;

    for (;;) {
        shm_batch_begin();
        for (uint32_t i = 0; i < nspare; i++)
            shm_batch_add(SHM_OP_FREE, spare[i], 0, 0);
        struct shm_request *w = wait ? shm_batch_add(SHM_OP_WAIT, 0, 0, 0) : NULL;
        struct shm_request *a = shm_batch_add(SHM_OP_ALLOC, bytes, 0, 0);
        int s = shm_batch_call();
        if (s != SHM_OK)
            fail("ALLOC", next_alloc, s);
        for (uint32_t i = 0; i < nspare; i++)
            if (shm_mailbox()->req[i].status != SHM_OK)
                fail("FREE", next_alloc, (int)shm_mailbox()->req[i].status);
        nspare = 0;
        if (w && w->status != SHM_OK)
            fail("WAIT", next_alloc, (int)w->status);
        if (a->status == SHM_OK) {
            take_block(a->a1, a->a2);
            return;
        }
        /* QUOTA with the whole quota free: the block is larger than the quota. */
        if (a->status == SHM_QUOTA && a->a2 == a->a1)
            fail("ALLOC", next_alloc, SHM_QUOTA);
        if (a->status != SHM_NO_SPACE && a->status != SHM_QUOTA)
            fail("ALLOC", next_alloc, (int)a->status);
        waits++;
        wait = 1;
    }
}

int main(const struct kvmctl_boot_info *info)
{
    if (shm_init(info) != 0) {
        kvmctl_puts("producer: needs a boot info with a shared region\n");
        return 2;
    }
    if (shm_vm_count() < 2) {
        kvmctl_puts("producer: needs at least 2 VMs\n");
        return 2;
    }
    uint64_t n = info->arg[0] ? info->arg[0] : DEFAULT_MESSAGES;
    uint64_t max = info->arg[2] ? info->arg[2] : DEFAULT_MAX_PAYLOAD;
    fixed_len = (max >> 63) != 0;
    max &= ~(1ull << 63);
    uint64_t fault_after = info->arg[3];
    uint32_t dest = (shm_vm_index() + 1) % shm_vm_count();
    seed = info->arg[1] ? info->arg[1] : DEFAULT_SEED;
    me = shm_vm_index();

    /* seq and len are u32 in the header. */
    if (n > 0xffffffffull)
        n = 0xffffffffull;
    if (max > 0xffffffffull - MSG_HEADER_SIZE)
        max = 0xffffffffull - MSG_HEADER_SIZE;
    max_len = (uint32_t)max;
    if (fault_after >= n)
        fault_after = 0;

    kvmctl_puts("producer: vm=");
    kvmctl_put_dec(me);
    kvmctl_puts(" dest=");
    kvmctl_put_dec(dest);
    kvmctl_puts(" messages=");
    kvmctl_put_dec(n);
    kvmctl_puts(" seed=");
    kvmctl_put_dec(seed);
    kvmctl_puts(" max=");
    kvmctl_put_dec(max);
    kvmctl_putc('\n');

    uint64_t bytes = 0;
    while (next_send < n) {
        if (next_alloc == next_send)
            alloc_waiting();
        if (fault_after && next_send == fault_after) {
            kvmctl_puts("producer: faulting after ");
            kvmctl_put_dec(fault_after);
            kvmctl_puts(" messages\n");
            *(volatile uint64_t *)UNMAPPED_ADDR = fault_after;
            kvmctl_puts("producer: the write to 16 TiB did not fault\n");
            return 99;
        }
        uint32_t send_end = next_alloc;
        if (fault_after && fault_after < send_end)
            send_end = (uint32_t)fault_after;
        uint32_t alloc_end = send_end + WINDOW < n ? send_end + WINDOW : (uint32_t)n;

        /* One exit: FREE the spares, SEND what is written, ALLOC ahead. */
        shm_batch_begin();
        for (uint32_t i = 0; i < nspare; i++)
            shm_batch_add(SHM_OP_FREE, spare[i], 0, 0);
        uint32_t first_send = nspare;
        for (uint32_t seq = next_send; seq < send_end; seq++)
            shm_batch_add(SHM_OP_SEND, held[seq % WINDOW].gpa, MSG_HEADER_SIZE + payload_len(seq), dest);
        uint32_t first_alloc = first_send + (send_end - next_send);
        for (uint32_t seq = next_alloc; seq < alloc_end; seq++)
            shm_batch_add(SHM_OP_ALLOC, MSG_HEADER_SIZE + payload_len(seq), 0, 0);
        uint32_t allocs = alloc_end - next_alloc;
        int s = shm_batch_call();
        if (s != SHM_OK)
            fail("SEND+ALLOC", next_send, s);

        const struct shm_request *r = shm_mailbox()->req;
        for (uint32_t i = 0; i < nspare; i++)
            if (r[i].status != SHM_OK)
                fail("FREE", next_send, (int)r[i].status);
        nspare = 0;
        for (uint32_t seq = next_send; seq < send_end; seq++) {
            const struct shm_request *q = &r[first_send + (seq - next_send)];
            if (q->status != SHM_OK)
                fail("SEND", seq, (int)q->status);
            bytes += payload_len(seq);
        }
        next_send = send_end;
        shm_ring(dest);

        int in_order = 1;
        uint32_t alloc_start = next_alloc;
        for (uint32_t i = 0; i < allocs; i++) {
            const struct shm_request *q = &r[first_alloc + i];
            if (q->status == SHM_OK && in_order)
                take_block(q->a1, q->a2);
            else if (q->status == SHM_OK)
                spare[nspare++] = q->a1;
            else if (q->status == SHM_NO_SPACE || q->status == SHM_QUOTA)
                in_order = 0;
            else
                fail("ALLOC", alloc_start + i, (int)q->status);
        }
    }
    /* Spares left from the last call: give them back rather than leave them to the host. */
    for (uint32_t i = 0; i < nspare; i++) {
        int s = shm_free(spare[i]);
        if (s != SHM_OK)
            fail("FREE", next_send, s);
    }

    kvmctl_puts("producer: sent=");
    kvmctl_put_dec(n);
    kvmctl_puts(" bytes=");
    kvmctl_put_dec(bytes);
    kvmctl_puts(" waits=");
    kvmctl_put_dec(waits);
    kvmctl_putc('\n');
    return 0;
}
