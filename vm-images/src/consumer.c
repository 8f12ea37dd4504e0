/*
 * consumer.elf - receives and verifies the messages of producer.elf
 * (docs/shared-memory-abi.md; message format in shm-message.h).
 *
 * Boot-info arguments (0 = the default):
 *   arg0  messages N to expect   (default 1000)
 *   arg1  seed                   (default 1; the producer's)
 *   arg2  bit 0: poll instead of waiting: when every POLL came back EMPTY,
 *         YIELD (which lets the other VM run in one-thread mode) and POLL again,
 *         never RECV. For measuring polling against doorbells.
 *
 * Loop: one call FREEs the blocks of the messages received by the previous
 * one and POLLs up to 16 times; then it rings the doorbell of each sender
 * whose blocks it freed (a producer waiting for space wakes), verifies what
 * the POLLs returned, and only when they all said EMPTY makes a second call,
 * RECV, which waits. The doorbells have to come before any RECV that may
 * wait, or a producer stuck in WAIT and this consumer stuck in RECV would
 * wait for each other.
 *
 * Each message is checked: the block lies in the shared region and is longer
 * than 16 bytes, the sender is another existing VM, header magic, seq = the
 * next one expected from that sender (a producer's messages arrive in order),
 * header length = received length - 16, checksum, and every payload byte
 * against the regenerated stream. A message failing any check counts as one
 * error (not verified); its block is still freed unless it lies outside the
 * region.
 * It stops after N messages, or at NO_MORE_SENDERS (every other VM ended
 * with the inbox empty), then REPORTs (verified messages, verified payload
 * bytes, errors) and prints
 *
 *   consumer: vm=<i> expecting=<N> seed=<s>
 *   consumer: verified=<n> bytes=<b> errors=<e>
 *
 * and at most 8 lines "consumer: bad message from=<vm> seq=<seq>: <what>"
 * before the summary. Bytes count payloads only, like the producer's
 * bytes=. Exit status 0 only if verified = N and errors = 0, else 1
 * (2: bad boot info or no shared region). An unexpected status from a call
 * prints "consumer: <OP> failed: <STATUS>" and counts an error; from POLL or
 * RECV it also ends the loop (REPORT and the summary still follow).
 *
 *   kvmctl launch --messages 200 --seed 7 --shared-size 4M
 *
 * kvmctl launch with no --image is the shared-memory demo: producer.elf as VM 0
 * and this image as VM 1 with arguments (messages, seed), on one region, at
 * ring 3. The demo's report takes verified/bytes/errors from the REPORT.
 *
 * Ring 3: verification touches every byte. General registers only.
 */
#include "kvmctl_shm.h"
#include "shm-message.h"

#define DEFAULT_MESSAGES    1000
#define DEFAULT_SEED        1
#define MAX_SENDERS         256     /* per-sender sequence numbers kept */
#define MAX_ERROR_LINES     8
#define WINDOW              16      /* POLLs per call; 2 * WINDOW <= 127 requests */

static uint32_t next_seq[MAX_SENDERS];
static uint64_t verified, verified_bytes, errors;
/* Blocks received since the last call, FREEd by the next one. */
static uint64_t held_gpa[WINDOW];
static uint32_t held_from[WINDOW], nheld;

static void bad(uint32_t from, uint64_t seq, const char *what)
{
    errors++;
    if (errors > MAX_ERROR_LINES)
        return;
    kvmctl_puts("consumer: bad message from=");
    kvmctl_put_dec(from);
    kvmctl_puts(" seq=");
    kvmctl_put_dec(seq);
    kvmctl_puts(": ");
    kvmctl_puts(what);
    kvmctl_putc('\n');
}

static void call_failed(const char *op, int status)
{
    errors++;
    kvmctl_puts("consumer: ");
    kvmctl_puts(op);
    kvmctl_puts(" failed: ");
    kvmctl_puts(shm_status_name(status));
    kvmctl_putc('\n');
}

/*
 * Regenerates the payload and folds the differences into one word, with no
 * branch per word: the common case is a clean message, and a bad one needs no
 * position. Reads each shared word exactly once, so a peer that rewrites the
 * block meanwhile cannot make the checksum and the comparison see different
 * bytes.
 */
static int payload_ok(const uint8_t *payload, uint32_t len, uint64_t key, uint32_t *checksum)
{
    const msg_u64 *words = (const msg_u64 *)payload;
    uint32_t full = len / 8, tail = len % 8;
    uint64_t h = MSG_FNV_BASIS, diff = 0;

    for (uint32_t i = 0; i < full; i++) {
        uint64_t w = words[i];
        diff |= w ^ msg_word(key, i);
        h = msg_hash_step(h, w);
    }
    if (tail) {
        uint64_t w = 0;
        for (uint32_t b = 0; b < tail; b++)
            w |= (uint64_t)payload[8 * full + b] << (8 * b);
        diff |= w ^ msg_low_bytes(msg_word(key, full), tail);
        h = msg_hash_step(h, w);
    }
    *checksum = msg_hash_final(h, len);
    return diff == 0;
}

/* Checks one message; returns 0 if its block is not one this VM may FREE. */
static int verify(uint64_t gpa, uint64_t length, uint32_t from, uint64_t seed)
{
    uint32_t expect = from < MAX_SENDERS ? next_seq[from] : 0;

    if (from >= shm_vm_count() || from == shm_vm_index() || from >= MAX_SENDERS) {
        bad(from, expect, "impossible sender");
        return shm_contains(gpa, 1);
    }
    if (!shm_contains(gpa, length)) {
        bad(from, expect, "block outside the region");
        return 0;
    }
    if (length < MSG_HEADER_SIZE + 1) {
        bad(from, expect, "shorter than a message");
        return 1;
    }
    /* Copy the header once: the block is shared memory. */
    struct msg_header hdr = *(const volatile struct msg_header *)(uintptr_t)gpa;
    if (hdr.magic != MSG_MAGIC) {
        bad(from, expect, "bad magic");
        next_seq[from] = expect + 1;
        return 1;
    }
    /* Resynchronise on the header's seq, so that one lost message is one error. */
    next_seq[from] = hdr.seq + 1;
    if (hdr.seq != expect) {
        bad(from, hdr.seq, "out of order");
        return 1;
    }
    if (hdr.len != length - MSG_HEADER_SIZE) {
        bad(from, hdr.seq, "length differs from the SEND length");
        return 1;
    }
    uint32_t checksum;
    int same = payload_ok((const uint8_t *)(uintptr_t)gpa + MSG_HEADER_SIZE, hdr.len,
                          msg_key(seed, hdr.seq, from), &checksum);
    if (checksum != hdr.checksum) {
        bad(from, hdr.seq, "checksum");
        return 1;
    }
    if (!same) {
        bad(from, hdr.seq, "payload differs");
        return 1;
    }
    verified++;
    verified_bytes += hdr.len;
    return 1;
}

/* Verifies a received message and keeps its block for the next call's FREE. */
static void take(uint64_t gpa, uint64_t length, uint32_t from, uint64_t seed)
{
    if (!verify(gpa, length, from, seed))
        return;
    held_gpa[nheld] = gpa;
    held_from[nheld] = from;
    nheld++;
}

/* Rings, once each, the doorbells of the senders of the blocks just freed. */
static void ring_senders(void)
{
    for (uint32_t i = 0; i < nheld; i++) {
        uint32_t j = 0;
        while (j < i && held_from[j] != held_from[i])
            j++;
        if (j == i)
            shm_ring(held_from[i]);
    }
    nheld = 0;
}

int main(const struct kvmctl_boot_info *info)
{
    if (shm_init(info) != 0) {
        kvmctl_puts("consumer: needs a boot info with a shared region\n");
        return 2;
    }
    uint64_t n = info->arg[0] ? info->arg[0] : DEFAULT_MESSAGES;
    uint64_t seed = info->arg[1] ? info->arg[1] : DEFAULT_SEED;

    kvmctl_puts("consumer: vm=");
    kvmctl_put_dec(shm_vm_index());
    kvmctl_puts(" expecting=");
    kvmctl_put_dec(n);
    kvmctl_puts(" seed=");
    kvmctl_put_dec(seed);
    kvmctl_putc('\n');

    uint64_t received = 0, empty_rounds = 0;
    int ended = 0;
    int poll_only = (info->arg[2] & 1) != 0;

    while (received < n && !ended) {
        uint32_t polls = n - received < WINDOW ? (uint32_t)(n - received) : WINDOW;
        shm_batch_begin();
        for (uint32_t i = 0; i < nheld; i++)
            shm_batch_add(SHM_OP_FREE, held_gpa[i], 0, 0);
        for (uint32_t i = 0; i < polls; i++)
            shm_batch_add(SHM_OP_POLL, 0, 0, 0);
        int s = shm_batch_call();
        if (s != SHM_OK) {
            call_failed("FREE+POLL", s);
            break;
        }
        const struct shm_request *r = shm_mailbox()->req;
        uint32_t frees = nheld;
        for (uint32_t i = 0; i < frees; i++)
            if (r[i].status != SHM_OK)
                call_failed("FREE", (int)r[i].status);
        ring_senders();

        uint32_t got = 0;
        for (uint32_t i = frees; i < frees + polls && !ended; i++) {
            if (r[i].status == SHM_OK) {
                got++;
                received++;
                take(r[i].a0, r[i].a1, (uint32_t)r[i].a2, seed);
            } else if (r[i].status == SHM_NO_MORE_SENDERS) {
                ended = 1;
            } else if (r[i].status != SHM_EMPTY) {
                call_failed("POLL", (int)r[i].status);
                ended = 1;
            }
        }
        if (got || ended)
            continue;
        if (poll_only) {
            empty_rounds++;
            s = shm_yield();
            if (s != SHM_OK) {
                call_failed("YIELD", s);
                ended = 1;
            }
            continue;
        }

        /* Nothing there: wait. The doorbells for the FREEs above have rung. */
        uint64_t gpa, length;
        uint32_t from;
        s = shm_recv(&gpa, &length, &from);
        if (s == SHM_OK) {
            received++;
            take(gpa, length, from, seed);
        } else {
            if (s != SHM_NO_MORE_SENDERS)
                call_failed("RECV", s);
            ended = 1;
        }
    }
    if (nheld) {
        shm_batch_begin();
        for (uint32_t i = 0; i < nheld; i++)
            shm_batch_add(SHM_OP_FREE, held_gpa[i], 0, 0);
        int s = shm_batch_call();
        for (uint32_t i = 0; i < nheld; i++)
            if (s == SHM_OK && shm_mailbox()->req[i].status != SHM_OK)
                call_failed("FREE", (int)shm_mailbox()->req[i].status);
        if (s != SHM_OK)
            call_failed("FREE", s);
        ring_senders();
    }

    int s = shm_report(verified, verified_bytes, errors);
    if (s != SHM_OK)
        call_failed("REPORT", s);

    kvmctl_puts("consumer: verified=");
    kvmctl_put_dec(verified);
    kvmctl_puts(" bytes=");
    kvmctl_put_dec(verified_bytes);
    kvmctl_puts(" errors=");
    kvmctl_put_dec(errors);
    if (poll_only) {
        kvmctl_puts(" empty_polls=");
        kvmctl_put_dec(empty_rounds);
    }
    kvmctl_putc('\n');
    return verified == n && errors == 0 ? 0 : 1;
}
