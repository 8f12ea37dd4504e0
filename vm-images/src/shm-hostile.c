/*
 * shm-hostile.elf - makes invalid and hostile shared-memory calls
 * (docs/shared-memory-abi.md) and checks that each gets the documented answer.
 *
 * Prints "shm-hostile: vm=<i> vms=<n> region=<bytes>", then one line per
 * check, "ok <name>" or "FAIL <name> got <status>" (for the mailbox checks
 * "FAIL <name> got error=<STATUS> completed=<hex>"), then
 *   shm-hostile: leaving 7 blocks (105088 bytes) allocated
 *   shm-hostile: <checks> checks, <failures> failures
 * and exits with the number of failures as its status (2: bad boot info or no
 * shared region, before any check). With one VM it makes 37 checks; with two
 * or more, 40. Run alone, or on every VM of the group.
 *
 * arg0 = 1 is hoard mode instead (below); any other value, the checks.
 *
 * The checks, in order. "peer" is VM (index + 1) % count, "previous" VM
 * (index - 1) % count; sizes are requests. Every "alloc-*" check also wants
 * the block 64-byte aligned, inside the region, its size a multiple of 64 and
 * at least the request.
 *
 *   with 1 VM:
 *     alloc-whole       ALLOC the whole region -> OK, a1 = the region base,
 *                       a2 = the region size
 *     quota-full        ALLOC 64 -> QUOTA (alone, the default byte quota is
 *                       the whole region, all in use now; the quota is
 *                       checked before free space): a1 = the region size,
 *                       a2 (quota left) = 0
 *     free-whole        FREE the whole-region block -> OK
 *     recv-alone        RECV -> NO_MORE_SENDERS (there is no one else)
 *     wait-alone        WAIT -> NO_MORE_SENDERS
 *   with 2 or more VMs:
 *     alloc-p           ALLOC 64 -> OK; first byte 'P'
 *     send-peer         SEND it (length 1) to the peer -> OK   } one call
 *     free-sent         FREE it -> NOT_OWNER (the peer's now)  }
 *   always:
 *     alloc-zero        ALLOC 0 -> BAD_SIZE
 *     alloc-too-big     ALLOC region size + 1 -> BAD_SIZE
 *     alloc-huge        ALLOC 2^64 - 1 -> BAD_SIZE (overflows naive rounding)
 *     alloc-xay         ALLOC 256 three times in one call -> OK, and blocks
 *                       X, A, Y adjacent in that order (up to 8 tries, as a
 *                       peer's holes may split them; the blocks of failed
 *                       tries are freed afterwards). A is the test block; X
 *                       and Y keep it from merging with idle space once freed
 *     free-outside      FREE 0x100000 (this image, in RAM) -> BAD_ADDRESS
 *     free-past-end     FREE region base + size -> BAD_ADDRESS
 *     free-interior     FREE A + 64 -> BAD_ADDRESS
 *     free-unaligned    FREE A + 1 -> BAD_ADDRESS
 *   with 2 or more VMs (they need a valid destination: the peer):
 *     send-bad-address  SEND A + 64, length 1 -> BAD_ADDRESS
 *     send-zero         SEND A, length 0 -> BAD_LENGTH
 *     send-too-long     SEND A, length = its size + 1 -> BAD_LENGTH
 *   always:
 *     send-self         SEND A, length 1, to this VM -> NO_SUCH_VM
 *     send-vm-99        SEND A, length 1, to VM 99 -> NO_SUCH_VM
 *     free-a            FREE A -> OK
 *     double-free       FREE A again -> NOT_OWNER (idle, and still a block
 *                       because both neighbours are in use; beside idle
 *                       space a merging allocator absorbs it, and then
 *                       BAD_ADDRESS would be right). If the previous VM
 *                       took A in between and sent it here, OK is right:
 *                       the inbox shows it, and the check runs again on a
 *                       new sandwich (up to 8 times)
 *     bad-op-77         op 77 -> BAD_OP   } one call
 *     bad-op-0          op 0 -> BAD_OP    }
 *     poll-alone        (1 VM) POLL -> NO_MORE_SENDERS
 *     poll-empty        (2+ VMs) POLL -> EMPTY; blocks the previous VM sent
 *                       (its 'P', maybe its 'D') are taken first, up to 8
 *     yield             YIELD -> OK
 *     bad-magic         a mailbox with magic 0x12345678 holding ALLOC 64 ->
 *                       error BAD_MAILBOX, completed 0, the request untouched
 *     count-0           count 0 -> error BAD_MAILBOX, completed 0, likewise
 *     count-128         count 128 -> likewise
 *     count-200         count 200 -> likewise
 *     call-outside-ram  EAX = 0xfffff000 -> completed stays 0xffffffff (the
 *                       guest's own mailbox, left valid, was not the one named)
 *     call-past-ram     EAX = RAM size (when below 4 GiB) -> likewise
 *     batch-3-setup     ALLOC 64 -> OK (the block batch-3 frees)
 *     batch-3           one call of ALLOC 100, ALLOC 200, FREE (that block)
 *                       -> completed 3, each OK
 *     batch-127         one call of 127 YIELDs -> completed 127, each OK
 *     alloc-leave-1..3  ALLOC 4096, 64 and 100000 -> OK
 *     hoard-quota       ALLOC 64, 127 per call, until one is refused ->
 *                       QUOTA (never NO_SPACE: with every VM within its
 *                       default quota the region cannot fill up, whatever
 *                       the peers hoard meanwhile), with a1 = the byte
 *                       quota and a2 <= a1; at most 16384 blocks
 *     hoard-again       ALLOC 64 -> QUOTA (a refusal changes nothing)
 *     hoard-free        FREE every hoarded block, 127 per call -> each OK
 *     after-hoard       ALLOC 64 -> OK (the quota came back), then FREE it
 *   with 2 or more VMs, a barrier:
 *     alloc-done        ALLOC 64 -> OK; first byte 'D'
 *     send-done         SEND it to the peer -> OK; then RECV until the
 *                       previous VM's 'D' has come, and FREE what it sent
 *
 * Then it exits without freeing the rest: X, Y, the two blocks from batch-3
 * and the three alloc-leave blocks (7 blocks, 105,088 bytes at 64-byte
 * rounding) are still its own, and the host must reclaim them when the VM
 * ends.
 *
 * Why the barrier: each check has exactly one thing wrong with it only while
 * the peer lives (a SEND to an ended VM is NO_SUCH_VM whatever else is wrong,
 * and a POLL with no live peer is NO_MORE_SENDERS). A VM ends only after the
 * previous VM's 'D', sent after all of that VM's checks; and it frees the 'P'
 * it received only then, so the sender's free-sent cannot meet a block that
 * was already freed (and perhaps merged away). So every VM of the group must
 * run shm-hostile. With one VM there is no valid destination, so the SEND
 * checks that need one are left out rather than made ambiguous.
 *
 * Hoard mode (arg0 = 1): a guest that allocates and never frees. It ALLOCs
 * 64-byte blocks, 127 per call, until one is refused (check hoard-quota, as
 * above), prints
 *   shm-hostile: hoarding <n> blocks (<bytes> bytes) until no peer is left
 * then RECVs (FREEing anything it is sent) until NO_MORE_SENDERS (check
 * hoard-until-alone), prints the checks line and exits holding every block:
 * the host must reclaim them. Its peers (any other guests) must meanwhile
 * get all the space their own quotas allow.
 *
 * Ring mode (arg0 = 2, arg1 = case 1..7): a peer that breaks the rings of
 * docs/shared-memory-abi.md ("Rings") with its peer, VM (index + 1) % (count
 * + 1) (with one VM: the host's Java endpoint). Checks first:
 *     ring-area         RINGS -> OK, the area inside the region
 *     ring-area-free    FREE the ring area -> NOT_OWNER (it is the host's)
 * then writes, in the ring to the peer (cases 1-5) or from it (6, 7):
 *     1 head-far        head = 2^40 (far more than the ring's size ahead)
 *     2 head-behind     head = 2^64 - 1 (behind the consumer's tail)
 *     3 entry-outside   head = 1, entry 0 = offset region size, 64 bytes
 *     4 entry-overflow  head = 1, entry 0 = offset region size - 64, length 2^32 - 1
 *     5 entry-empty     head = 1, entry 0 = offset 0, length 0
 *     6 tail-far        tail = 2^40 (past the producer's head)
 *     7 tail-behind     tail = 2^64 - 1
 * sets both waiting flags of both rings to 0xffffffff, rings the peer's
 * doorbell 1,000 times, prints "shm-hostile: ring case <n> written" and
 * the checks line, and exits (status = failures). The honest peer must find
 * the ring broken, say so, and end; nothing it reads may lie outside the
 * region (tests: RingsTest, RingHostileTest).
 *
 * Hand-back mode (arg0 = 3, exactly two VMs): double-free's other answer,
 * forced. VM 0 allocates a note block, then X, A, Y (alloc-xay), writes A's
 * address into the note, FREEs A (free-a), SENDs the note to VM 1
 * (handback-note-sent) and WAITs (handback-wait: OK, or NO_MORE_SENDERS if
 * VM 1 has ended by then). VM 1 RECVs the note
 * (handback-note), ALLOCs 64 bytes, which must be A, the best fit
 * (handback-take), SENDs it to VM 0 (handback-send), rings, and FREEs the
 * note (handback-note-free). VM 0 then runs double-free: its second FREE of
 * A is OK (A is its own again), the inbox shows why, it prints
 *   shm-hostile: A was handed back before double-free; again on a new sandwich
 * and the check passes on a new sandwich. Test: SharedMemoryTest.
 *
 * Launch: `kvmctl launch --image shm-hostile --image shm-hostile
 * --shared-size 1M` runs the checks on two VMs (an image with no shared
 * region exits 2); tests boot it on a SharedRegion with SharedMemoryHub
 * (GuestConfig.share and vmIndex), at ring 3, 16 MiB of RAM.
 *
 * General registers only; ring 3 like the other shared-memory guests.
 */
#include "kvmctl_shm.h"
#include "shm-ring.h"

#define POLL_DRAIN_TRIES    8
#define SANDWICH_TRIES      8
#define MAX_INBOUND         8
#define TOKEN_PROBE         'P'     /* first byte of the send-peer block */
#define TOKEN_DONE          'D'     /* first byte of the barrier block */
#define HOARD_MAX           16384   /* hoarded blocks remembered (and freed) in check mode */
#define HOARD_SIZE          64

static uint32_t checks, failures;
static uint64_t kept_blocks, kept_bytes;
/* Blocks the previous VM sent (2+ VMs), freed after the barrier. */
static uint64_t inbound[MAX_INBOUND];
static uint32_t ninbound;
static int prev_done;

static void passed(const char *name)
{
    checks++;
    kvmctl_puts("ok ");
    kvmctl_puts(name);
    kvmctl_putc('\n');
}

static void failed_head(const char *name)
{
    checks++;
    failures++;
    kvmctl_puts("FAIL ");
    kvmctl_puts(name);
    kvmctl_puts(" got ");
}

static void expect(const char *name, int got, int want)
{
    if (got == want) {
        passed(name);
        return;
    }
    failed_head(name);
    kvmctl_puts(shm_status_name(got));
    kvmctl_putc('\n');
}

/* ALLOC `bytes`, check the block is sane; its address (0 on failure). */
static uint64_t alloc_checked(const char *name, uint64_t bytes, uint64_t *size_out)
{
    uint64_t gpa = 0, size = 0;
    int s = shm_alloc(bytes, &gpa, &size);

    if (s == SHM_OK && (gpa % 64 || size % 64 || size < bytes || !shm_contains(gpa, size))) {
        failed_head(name);
        kvmctl_puts("OK with a bad block gpa=");
        kvmctl_put_hex(gpa);
        kvmctl_puts(" size=");
        kvmctl_put_hex(size);
        kvmctl_putc('\n');
        return 0;
    }
    expect(name, s, SHM_OK);
    if (size_out)
        *size_out = size;
    return s == SHM_OK ? gpa : 0;
}

static void keep(uint64_t gpa, uint64_t size)
{
    if (gpa) {
        kept_blocks++;
        kept_bytes += size;
    }
}

/* The mailbox-level outcome of a raw call, checked against (error, completed). */
static void expect_mailbox(const char *name, uint32_t want_error, uint32_t want_completed, int untouched_ok)
{
    const struct shm_mailbox *mb = shm_mailbox();

    if (mb->error == want_error && mb->completed == want_completed && untouched_ok) {
        passed(name);
        return;
    }
    failed_head(name);
    kvmctl_puts("error=");
    kvmctl_puts(mb->error ? shm_status_name((int)mb->error) : "0");
    kvmctl_puts(" completed=");
    kvmctl_put_hex(mb->completed);
    if (!untouched_ok)
        kvmctl_puts(" (a request was processed)");
    kvmctl_putc('\n');
}

/* A raw call with the given header fields, the mailbox holding one ALLOC 64. */
static void raw_call(const char *name, uint32_t magic, uint32_t count)
{
    struct shm_mailbox *mb = shm_mailbox();

    shm_batch_begin();
    struct shm_request *r = shm_batch_add(SHM_OP_ALLOC, 64, 0, 0);
    mb->magic = magic;
    mb->count = count;
    mb->completed = SHM_NOT_COMPLETED;
    mb->error = 0;
    shm_call_at((uint32_t)(uintptr_t)mb);
    expect_mailbox(name, SHM_BAD_MAILBOX, 0, r->status == SHM_STATUS_UNSET);
}

/* A valid mailbox, but the call names another address. */
static void call_elsewhere(const char *name, uint32_t gpa)
{
    struct shm_mailbox *mb = shm_mailbox();

    shm_batch_begin();
    struct shm_request *r = shm_batch_add(SHM_OP_YIELD, 0, 0, 0);
    mb->magic = SHM_MAILBOX_MAGIC;
    mb->count = 1;
    mb->completed = SHM_NOT_COMPLETED;
    mb->error = 0;
    shm_call_at(gpa);
    expect_mailbox(name, 0, SHM_NOT_COMPLETED, r->status == SHM_STATUS_UNSET);
}

/*
 * X, A, Y: three adjacent blocks of 256 bytes, X and Y kept. The host merges
 * idle neighbours when a block is freed (BlockAllocator does), so a freed A
 * next to idle space stops being a block at all and a second FREE of it would
 * rightly be BAD_ADDRESS, not NOT_OWNER. Owned neighbours prevent that.
 * Holes a peer left can split the three up; a failed try keeps its blocks so
 * that they fill those holes (the allocator would choose them again), and
 * they are freed once three adjacent blocks turn up.
 */
/* What sandwich() returns when no try gave three adjacent blocks (not a status the host gives). */
#define NEVER_ADJACENT      (-1)

/* The tries of alloc-xay, silent: SHM_OK with the blocks in xay and sizes, else why not. */
static int sandwich(uint64_t xay[3], uint64_t sizes[3])
{
    struct shm_request *r[3];
    uint64_t fillers[3 * SANDWICH_TRIES];
    int nfillers = 0, s = NEVER_ADJACENT;

    for (int attempt = 0; attempt < SANDWICH_TRIES; attempt++) {
        shm_batch_begin();
        for (int i = 0; i < 3; i++)
            r[i] = shm_batch_add(SHM_OP_ALLOC, 256, 0, 0);
        if ((s = shm_batch_call()) != SHM_OK)
            break;
        for (int i = 0; i < 3; i++) {
            uint64_t gpa = r[i]->a1, size = r[i]->a2;
            if (r[i]->status != SHM_OK) {
                s = (int)r[i]->status;
                break;
            }
            if (gpa % 64 || size % 64 || size < 256 || !shm_contains(gpa, size))
                s = SHM_INCOMPLETE;     /* reported as a bad block */
        }
        if (s != SHM_OK)
            break;
        if (r[0]->a1 + r[0]->a2 == r[1]->a1 && r[1]->a1 + r[1]->a2 == r[2]->a1) {
            for (int i = 0; i < 3; i++) {
                xay[i] = r[i]->a1;
                sizes[i] = r[i]->a2;
            }
            break;
        }
        for (int i = 0; i < 3; i++)
            fillers[nfillers++] = r[i]->a1;
        s = NEVER_ADJACENT;
    }
    if (nfillers) {
        shm_batch_begin();
        for (int i = 0; i < nfillers; i++)
            shm_batch_add(SHM_OP_FREE, fillers[i], 0, 0);
        shm_batch_call();
    }
    return s;
}

static void alloc_sandwich(uint64_t *a_gpa, uint64_t *a_size)
{
    uint64_t xay[3], sizes[3];
    int s = sandwich(xay, sizes);

    *a_gpa = *a_size = 0;
    if (s == SHM_OK) {
        keep(xay[0], sizes[0]);
        keep(xay[2], sizes[2]);
        *a_gpa = xay[1];
        *a_size = sizes[1];
        passed("alloc-xay");
        return;
    }
    failed_head("alloc-xay");
    if (s == SHM_INCOMPLETE)
        kvmctl_puts("OK with a bad block");
    else if (s == NEVER_ADJACENT)
        kvmctl_puts("OK but never three adjacent blocks");
    else
        kvmctl_puts(shm_status_name(s));
    kvmctl_putc('\n');
}

static void batch_checks(void)
{
    uint64_t old_size = 0;
    uint64_t old = alloc_checked("batch-3-setup", 64, &old_size);

    shm_batch_begin();
    struct shm_request *a1 = shm_batch_add(SHM_OP_ALLOC, 100, 0, 0);
    struct shm_request *a2 = shm_batch_add(SHM_OP_ALLOC, 200, 0, 0);
    struct shm_request *f = shm_batch_add(SHM_OP_FREE, old, 0, 0);
    int s = shm_batch_call();
    int all_ok = s == SHM_OK && a1->status == SHM_OK && a2->status == SHM_OK && f->status == SHM_OK;
    if (s == SHM_OK && a1->status == SHM_OK)
        keep(a1->a1, a1->a2);
    if (s == SHM_OK && a2->status == SHM_OK)
        keep(a2->a1, a2->a2);
    if (all_ok) {
        passed("batch-3");
    } else if (s != SHM_OK) {
        expect("batch-3", s, SHM_OK);
    } else {
        failed_head("batch-3");
        kvmctl_puts(shm_status_name((int)a1->status));
        kvmctl_putc(',');
        kvmctl_puts(shm_status_name((int)a2->status));
        kvmctl_putc(',');
        kvmctl_puts(shm_status_name((int)f->status));
        kvmctl_putc('\n');
    }

    shm_batch_begin();
    for (int i = 0; i < SHM_MAX_REQUESTS; i++)
        shm_batch_add(SHM_OP_YIELD, 0, 0, 0);
    s = shm_batch_call();
    int bad = -1;
    for (int i = 0; s == SHM_OK && i < SHM_MAX_REQUESTS; i++)
        if (shm_mailbox()->req[i].status != SHM_OK && bad < 0)
            bad = i;
    if (s == SHM_OK && bad < 0)
        passed("batch-127");
    else
        expect("batch-127", s != SHM_OK ? s : (int)shm_mailbox()->req[bad].status, SHM_OK);
}

/* A block the previous VM sent: its 'P' probe or its 'D' token. */
static void note_inbound(uint64_t gpa)
{
    if (shm_contains(gpa, 1) && *(const volatile uint8_t *)(uintptr_t)gpa == TOKEN_DONE)
        prev_done = 1;
    if (ninbound < MAX_INBOUND)
        inbound[ninbound++] = gpa;
    else
        shm_free(gpa);
}

/*
 * Whether the inbox held a block at `gpa` (taken out; any others are noted as
 * poll-empty notes them). Its token is read after the block was freed: if a
 * peer has overwritten a 'D' by then, the barrier ends on NO_MORE_SENDERS.
 */
static int handed_back(uint64_t gpa)
{
    int found = 0;
    uint64_t got;

    for (int i = 0; i < POLL_DRAIN_TRIES && shm_poll(&got, NULL, NULL) == SHM_OK; i++) {
        if (got != gpa) {
            note_inbound(got);
            continue;
        }
        found = 1;
        if (*(const volatile uint8_t *)(uintptr_t)got == TOKEN_DONE)
            prev_done = 1;
    }
    return found;
}

/*
 * double-free: FREE the freed A again -> NOT_OWNER. Calls are not atomic
 * across VMs (the ABI), so between the two FREEs the previous VM may take A
 * for its 64-byte 'P' or 'D' (A is the best fit) and send it here: then A is
 * this VM's again and the second FREE is rightly OK. That block is in the
 * inbox, which tells the two apart; the check runs again on a new sandwich,
 * whose X and Y are freed afterwards.
 */
static void double_free(uint64_t a)
{
    uint64_t xay[3], sizes[3];
    int s = shm_free(a);

    for (int attempt = 1; s == SHM_OK && attempt < SANDWICH_TRIES && handed_back(a); attempt++) {
        kvmctl_puts("shm-hostile: A was handed back before double-free; again on a new sandwich\n");
        if (sandwich(xay, sizes) != SHM_OK)
            break;
        a = xay[1];
        if ((s = shm_free(a)) == SHM_OK)
            s = shm_free(a);
        shm_free(xay[0]);
        shm_free(xay[2]);
    }
    expect("double-free", s, SHM_NOT_OWNER);
}

/* ALLOC a 64-byte block, put `token` in its first byte, return it (0 on failure). */
static uint64_t token_block(const char *name, uint8_t token)
{
    uint64_t gpa = alloc_checked(name, 64, NULL);
    if (gpa)
        *(volatile uint8_t *)(uintptr_t)gpa = token;
    return gpa;
}

/* With 2+ VMs: the probe that checks a sent block is no longer ours. */
static void peer_checks(uint32_t peer)
{
    uint64_t p = token_block("alloc-p", TOKEN_PROBE);

    shm_batch_begin();
    struct shm_request *snd = shm_batch_add(SHM_OP_SEND, p, 1, peer);
    struct shm_request *fre = shm_batch_add(SHM_OP_FREE, p, 0, 0);
    int s = shm_batch_call();
    shm_ring(peer);
    expect("send-peer", s == SHM_OK ? (int)snd->status : s, SHM_OK);
    expect("free-sent", s == SHM_OK ? (int)fre->status : s, SHM_NOT_OWNER);
}

/* With 1 VM: the whole region, and calls that would wait for a peer. */
static void alone_checks(uint64_t base, uint64_t region)
{
    uint64_t whole = 0, whole_size = 0;
    int s = shm_alloc(region, &whole, &whole_size);

    if (s == SHM_OK && (whole != base || whole_size != region)) {
        failed_head("alloc-whole");
        kvmctl_puts("OK with gpa=");
        kvmctl_put_hex(whole);
        kvmctl_puts(" size=");
        kvmctl_put_hex(whole_size);
        kvmctl_putc('\n');
    } else {
        expect("alloc-whole", s, SHM_OK);
    }
    shm_batch_begin();
    struct shm_request *q = shm_batch_add(SHM_OP_ALLOC, 64, 0, 0);
    s = shm_batch_call();
    if (s == SHM_OK)
        s = (int)q->status;
    if (s == SHM_QUOTA && (q->a1 != region || q->a2 != 0)) {
        failed_head("quota-full");
        kvmctl_puts("QUOTA with a1=");
        kvmctl_put_hex(q->a1);
        kvmctl_puts(" a2=");
        kvmctl_put_hex(q->a2);
        kvmctl_putc('\n');
    } else {
        expect("quota-full", s, SHM_QUOTA);
    }
    expect("free-whole", shm_free(whole), SHM_OK);
    expect("recv-alone", shm_recv(NULL, NULL, NULL), SHM_NO_MORE_SENDERS);
    expect("wait-alone", shm_wait(), SHM_NO_MORE_SENDERS);
}

/*
 * With 2+ VMs: hand the next VM a 'D' token, then wait for the previous VM's
 * (unless it came already). So no VM ends while the one before it may still
 * SEND to it or count on it being alive, and each frees the blocks it was
 * sent only after its sender's checks are over.
 */
static void barrier(uint32_t peer)
{
    uint64_t d = token_block("alloc-done", TOKEN_DONE);
    expect("send-done", shm_send(d, 1, peer), SHM_OK);
    shm_ring(peer);

    while (!prev_done) {
        uint64_t gpa;
        int s = shm_recv(&gpa, NULL, NULL);
        if (s != SHM_OK)
            break;          /* NO_MORE_SENDERS: the previous VM ended without one */
        note_inbound(gpa);
    }
    if (ninbound) {
        shm_batch_begin();
        for (uint32_t i = 0; i < ninbound; i++)
            shm_batch_add(SHM_OP_FREE, inbound[i], 0, 0);
        shm_batch_call();
    }
}

/* What hoard() got: blocks and bytes, and the refusal that stopped it. */
struct hoard_result {
    uint64_t blocks, bytes;
    int status;                 /* of the first refused ALLOC, or of a failed call */
    uint64_t quota, left;       /* its a1 and a2 */
};

/*
 * ALLOC HOARD_SIZE bytes, 127 per call, until one is refused; remember up to
 * `keep_max` block addresses in `kept`. Every request of the last call is
 * looked at: a peer may free a block this VM paid for between two of them.
 * More blocks than the region has granules would mean no limit at all: stop.
 */
static struct hoard_result hoard(uint64_t *kept, uint64_t keep_max)
{
    struct hoard_result h = { 0, 0, SHM_OK, 0, 0 };
    uint64_t limit = shm_size() / HOARD_SIZE;

    while (h.status == SHM_OK) {
        shm_batch_begin();
        for (int i = 0; i < SHM_MAX_REQUESTS; i++)
            shm_batch_add(SHM_OP_ALLOC, HOARD_SIZE, 0, 0);
        int s = shm_batch_call();
        if (s != SHM_OK) {
            h.status = s;
            break;
        }
        for (int i = 0; i < SHM_MAX_REQUESTS; i++) {
            const struct shm_request *q = &shm_mailbox()->req[i];
            if (q->status == SHM_OK) {
                if (kept && h.blocks < keep_max)
                    kept[h.blocks] = q->a1;
                h.blocks++;
                h.bytes += q->a2;
            } else if (h.status == SHM_OK) {
                h.status = (int)q->status;
                h.quota = q->a1;
                h.left = q->a2;
            }
        }
        if (h.status == SHM_OK && (h.blocks >= keep_max || h.blocks > limit))
            h.status = SHM_INCOMPLETE;  /* reported as "no QUOTA" below */
    }
    return h;
}

static void expect_hoard_quota(const struct hoard_result *h)
{
    if (h->status == SHM_QUOTA && h->blocks > 0 && h->quota > 0 && h->left <= h->quota) {
        passed("hoard-quota");
        return;
    }
    failed_head("hoard-quota");
    if (h->status == SHM_INCOMPLETE)
        kvmctl_puts("no QUOTA");
    else
        kvmctl_puts(shm_status_name(h->status));
    kvmctl_puts(" after ");
    kvmctl_put_dec(h->blocks);
    kvmctl_puts(" blocks, a1=");
    kvmctl_put_hex(h->quota);
    kvmctl_puts(" a2=");
    kvmctl_put_hex(h->left);
    kvmctl_putc('\n');
}

/* Check mode: hoard until QUOTA while the peers run, then give everything back. */
static uint64_t hoarded[HOARD_MAX];

static void hoard_checks(void)
{
    struct hoard_result h = hoard(hoarded, HOARD_MAX);
    expect_hoard_quota(&h);
    expect("hoard-again", shm_alloc(HOARD_SIZE, NULL, NULL), SHM_QUOTA);

    uint64_t n = h.blocks < HOARD_MAX ? h.blocks : HOARD_MAX;
    int bad = SHM_OK;
    for (uint64_t done = 0; done < n; ) {
        uint32_t k = n - done < SHM_MAX_REQUESTS ? (uint32_t)(n - done) : SHM_MAX_REQUESTS;
        shm_batch_begin();
        for (uint32_t i = 0; i < k; i++)
            shm_batch_add(SHM_OP_FREE, hoarded[done + i], 0, 0);
        int s = shm_batch_call();
        for (uint32_t i = 0; s == SHM_OK && i < k && bad == SHM_OK; i++)
            if (shm_mailbox()->req[i].status != SHM_OK)
                bad = (int)shm_mailbox()->req[i].status;
        if (s != SHM_OK && bad == SHM_OK)
            bad = s;
        done += k;
    }
    expect("hoard-free", bad, SHM_OK);

    uint64_t gpa = alloc_checked("after-hoard", HOARD_SIZE, NULL);
    if (gpa)
        shm_free(gpa);
}

static void summary(void)
{
    kvmctl_puts("shm-hostile: ");
    kvmctl_put_dec(checks);
    kvmctl_puts(" checks, ");
    kvmctl_put_dec(failures);
    kvmctl_puts(" failures\n");
}

/* Hoard mode: never free; hold everything until no peer is left. */
static int hoard_mode(void)
{
    struct hoard_result h = hoard(NULL, ~0ull);
    expect_hoard_quota(&h);
    kvmctl_puts("shm-hostile: hoarding ");
    kvmctl_put_dec(h.blocks);
    kvmctl_puts(" blocks (");
    kvmctl_put_dec(h.bytes);
    kvmctl_puts(" bytes) until no peer is left\n");

    int s;
    for (;;) {
        uint64_t gpa;
        s = shm_recv(&gpa, NULL, NULL);
        if (s != SHM_OK)
            break;
        shm_free(gpa);
    }
    expect("hoard-until-alone", s, SHM_NO_MORE_SENDERS);
    summary();
    return (int)failures;
}

/*
 * Hand-back mode (arg0 = 3, two VMs): the interleaving that double-free must
 * tell from a real double free, made on purpose and in a fixed order.
 */
static int handback_mode(uint32_t me)
{
    if (me == 0) {
        uint64_t a, a_size;
        uint64_t note = alloc_checked("handback-note-alloc", 64, NULL);
        alloc_sandwich(&a, &a_size);
        if (!note || !a) {
            summary();
            return (int)failures;
        }
        *(volatile uint64_t *)(uintptr_t)note = a;
        expect("free-a", shm_free(a), SHM_OK);
        expect("handback-note-sent", shm_send(note, 8, 1), SHM_OK);
        shm_ring(1);
        /*
         * Only VM 1's ring after its SEND wakes this (OK), or, if VM 1 has
         * already ended, WAIT finds no other VM left (NO_MORE_SENDERS): A
         * is in the inbox either way.
         */
        int w = shm_wait();
        expect("handback-wait", w == SHM_NO_MORE_SENDERS ? SHM_OK : w, SHM_OK);
        double_free(a);
    } else {
        uint64_t note = 0, got = 0;
        int s = shm_recv(&note, NULL, NULL);
        expect("handback-note", s, SHM_OK);
        if (s == SHM_OK) {
            uint64_t a = *(const volatile uint64_t *)(uintptr_t)note;
            /* A, idle between X and Y, is the best fit for 64 bytes: the smallest idle block. */
            s = shm_alloc(64, &got, NULL);
            expect("handback-take", s == SHM_OK && got != a ? SHM_INCOMPLETE : s, SHM_OK);
            expect("handback-send", shm_send(got, 1, 0), SHM_OK);
            shm_ring(0);
            expect("handback-note-free", shm_free(note), SHM_OK);
        }
    }
    summary();
    return (int)failures;
}

#define SHM_OP_RINGS        9
#define RING_DOORBELLS      1000

static int ring_mode(uint64_t which)
{
    uint32_t me = shm_vm_index(), peers = shm_vm_count() + 1;
    uint32_t peer = (me + 1) % peers;
    shm_batch_begin();
    struct shm_request *r = shm_batch_add(SHM_OP_RINGS, 0, 0, 0);
    int s = shm_batch_call();
    expect("ring-area", s == SHM_OK ? (int)r->status : s, SHM_OK);
    uint64_t area = r->a0, entries = r->a1;
    if (s != SHM_OK || r->status != SHM_OK || r->a2 != peers || entries == 0 || (entries & (entries - 1))
            || !shm_contains(area, (uint64_t)peers * peers * shm_ring_bytes((uint32_t)entries))) {
        summary();
        return (int)failures + 1;
    }
    expect("ring-area-free", shm_free(area), SHM_NOT_OWNER);

    uint64_t stride = shm_ring_bytes((uint32_t)entries);
    volatile struct shm_ring *out = (volatile struct shm_ring *)(uintptr_t)(area + (me * peers + peer) * stride);
    volatile struct shm_ring *in = (volatile struct shm_ring *)(uintptr_t)(area + (peer * peers + me) * stride);
    uint64_t region = shm_size();
    switch (which) {
    case 1: out->head = 1ull << 40; break;
    case 2: out->head = ~0ull; break;
    case 3: out->e[0].offset = region; out->e[0].length = 64; out->head = 1; break;
    case 4: out->e[0].offset = region - 64; out->e[0].length = 0xffffffffu; out->head = 1; break;
    case 5: out->e[0].offset = 0; out->e[0].length = 0; out->head = 1; break;
    case 6: in->tail = 1ull << 40; break;
    case 7: in->tail = ~0ull; break;
    default:
        kvmctl_puts("shm-hostile: ring case must be 1..7\n");
        return 2;
    }
    out->prod_waiting = out->cons_waiting = 0xffffffffu;
    in->prod_waiting = in->cons_waiting = 0xffffffffu;
    for (int i = 0; i < RING_DOORBELLS; i++)
        shm_ring(peer);
    kvmctl_puts("shm-hostile: ring case ");
    kvmctl_put_dec(which);
    kvmctl_puts(" written\n");
    summary();
    return (int)failures;
}

int main(const struct kvmctl_boot_info *info)
{
    if (shm_init(info) != 0) {
        kvmctl_puts("shm-hostile: needs a boot info with a shared region\n");
        return 2;
    }
    uint32_t me = shm_vm_index(), count = shm_vm_count();
    uint32_t peer = (me + 1) % count;
    uint64_t base = shm_base(), region = shm_size();
    int alone = count < 2;

    kvmctl_puts("shm-hostile: vm=");
    kvmctl_put_dec(me);
    kvmctl_puts(" vms=");
    kvmctl_put_dec(count);
    kvmctl_puts(" region=");
    kvmctl_put_dec(region);
    kvmctl_putc('\n');

    if (info->arg[0] == 1)
        return hoard_mode();
    if (info->arg[0] == 2)
        return ring_mode(info->arg[1]);
    if (info->arg[0] == 3) {
        if (count != 2) {
            kvmctl_puts("shm-hostile: hand-back mode needs exactly two VMs\n");
            return 2;
        }
        return handback_mode(me);
    }
    if (alone)
        alone_checks(base, region);
    else
        peer_checks(peer);

    expect("alloc-zero", shm_alloc(0, NULL, NULL), SHM_BAD_SIZE);
    expect("alloc-too-big", shm_alloc(region + 1, NULL, NULL), SHM_BAD_SIZE);
    expect("alloc-huge", shm_alloc(~0ull, NULL, NULL), SHM_BAD_SIZE);

    uint64_t a, a_size;
    alloc_sandwich(&a, &a_size);

    expect("free-outside", shm_free(KVMCTL_IMAGE_BASE), SHM_BAD_ADDRESS);
    expect("free-past-end", shm_free(base + region), SHM_BAD_ADDRESS);
    expect("free-interior", shm_free(a + 64), SHM_BAD_ADDRESS);
    expect("free-unaligned", shm_free(a + 1), SHM_BAD_ADDRESS);
    if (!alone) {
        expect("send-bad-address", shm_send(a + 64, 1, peer), SHM_BAD_ADDRESS);
        expect("send-zero", shm_send(a, 0, peer), SHM_BAD_LENGTH);
        expect("send-too-long", shm_send(a, a_size + 1, peer), SHM_BAD_LENGTH);
    }
    expect("send-self", shm_send(a, 1, me), SHM_NO_SUCH_VM);
    expect("send-vm-99", shm_send(a, 1, 99), SHM_NO_SUCH_VM);
    expect("free-a", shm_free(a), SHM_OK);
    double_free(a);

    shm_batch_begin();
    struct shm_request *op77 = shm_batch_add(77, 0, 0, 0);
    struct shm_request *op0 = shm_batch_add(0, 0, 0, 0);
    int s = shm_batch_call();
    expect("bad-op-77", s == SHM_OK ? (int)op77->status : s, SHM_BAD_OP);
    expect("bad-op-0", s == SHM_OK ? (int)op0->status : s, SHM_BAD_OP);

    if (alone) {
        expect("poll-alone", shm_poll(NULL, NULL, NULL), SHM_NO_MORE_SENDERS);
    } else {
        /* The previous VM sends at most a probe and a token: take them, then EMPTY. */
        uint64_t got;
        for (int i = 0; i < POLL_DRAIN_TRIES; i++) {
            s = shm_poll(&got, NULL, NULL);
            if (s != SHM_OK)
                break;
            note_inbound(got);
        }
        expect("poll-empty", s, SHM_EMPTY);
    }
    expect("yield", shm_yield(), SHM_OK);

    raw_call("bad-magic", 0x12345678, 1);
    raw_call("count-0", SHM_MAILBOX_MAGIC, 0);
    raw_call("count-128", SHM_MAILBOX_MAGIC, 128);
    raw_call("count-200", SHM_MAILBOX_MAGIC, 200);
    call_elsewhere("call-outside-ram", 0xfffff000u);
    if (info->ram_size < 0x100000000ull)
        call_elsewhere("call-past-ram", (uint32_t)info->ram_size);

    batch_checks();

    static const uint64_t leave[] = { 4096, 64, 100000 };
    static const char *const leave_names[] = { "alloc-leave-1", "alloc-leave-2", "alloc-leave-3" };
    for (unsigned i = 0; i < sizeof leave / sizeof leave[0]; i++) {
        uint64_t size = 0;
        uint64_t gpa = alloc_checked(leave_names[i], leave[i], &size);
        keep(gpa, size);
    }

    hoard_checks();

    if (!alone)
        barrier(peer);

    kvmctl_puts("shm-hostile: leaving ");
    kvmctl_put_dec(kept_blocks);
    kvmctl_puts(" blocks (");
    kvmctl_put_dec(kept_bytes);
    kvmctl_puts(" bytes) allocated\n");
    summary();
    return (int)failures;
}
