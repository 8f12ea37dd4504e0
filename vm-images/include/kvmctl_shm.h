/*
 * kvmctl_shm.h - the guest side of docs/shared-memory-abi.md: block allocation,
 * message passing and doorbells in the region that several VMs share.
 *
 * Using it
 * --------
 *   #include "kvmctl_shm.h"
 *
 *   int main(const struct kvmctl_boot_info *info)
 *   {
 *       uint64_t gpa, size;
 *       if (shm_init(info) != 0)
 *           return 2;                           // no boot info or no shared region
 *       int s = shm_alloc(1000, &gpa, &size);   // size comes back as 1024
 *       if (s != SHM_OK) {
 *           kvmctl_puts(shm_status_name(s));
 *           return 1;
 *       }
 *       ((char *)gpa)[0] = 'x';                 // identity-mapped: a gpa is a pointer
 *       uint32_t peer = (shm_vm_index() + 1) % shm_vm_count();
 *       s = shm_send(gpa, 1, peer);             // the block now belongs to the peer ...
 *       shm_ring(peer);                         // ... which this wakes if it waits in RECV
 *       return s;
 *   }
 *
 * Link lib/shm.c (lib/shm.o) into the image besides lib/start64.S and
 * lib/string.c; the Makefile does this for the images in SHM_IMAGES. Launch
 * the guests together so that they share a region, at ring 3.
 *
 * Every call is one VM exit (`out 0x510, eax`), so the batch API exists to do
 * several operations per exit: requests run in order, and a blocking RECV or
 * WAIT in a batch completes before the requests after it run.
 *
 *   shm_batch_begin();
 *   struct shm_request *f = shm_batch_add(SHM_OP_FREE, old_gpa, 0, 0);
 *   struct shm_request *p = shm_batch_add(SHM_OP_POLL, 0, 0, 0);
 *   if (shm_batch_call() == SHM_OK && p->status == SHM_OK) ... p->a0, p->a1, p->a2 ...
 *
 * Return values: the single-request helpers return the request's status (one
 * of the SHM_* codes below, 0..9 or 11), or the call's outcome when the call itself
 * failed: SHM_BAD_MAILBOX (10, from the mailbox's error field), or one of the
 * negative library codes SHM_NO_ANSWER / SHM_INCOMPLETE. shm_status_name()
 * names all of them.
 *
 * One mailbox per guest, in the library's .bss: this is for single-vCPU guests
 * (the only kind kvmctl starts), and not reentrant. It lives in the guest's
 * own RAM below 4 GiB, which the ABI requires (EAX carries its address).
 *
 * General registers only (lib/ is built with -mgeneral-regs-only), so it also
 * works at ring 0, but every guest that moves real data belongs at ring 3:
 * under KVM's PVM backend ring-0 code is emulated.
 */
#ifndef KVMCTL_SHM_H
#define KVMCTL_SHM_H

#include "kvmctl_guest.h"

/* Ports. */
#define SHM_PORT_CALL           0x510   /* out dx, eax: EAX = mailbox address */
#define SHM_PORT_DOORBELL       0x520   /* + n: doorbell of VM n */
#define SHM_MAX_DOORBELLS       16      /* only VMs 0..15 have a doorbell */

/* The mailbox. */
#define SHM_MAILBOX_MAGIC       0x4d48534bu     /* "KSHM" as a little-endian u32 */
#define SHM_MAX_REQUESTS        127
#define SHM_NOT_COMPLETED       0xffffffffu     /* `completed` before the call */

/* Operations (request.op). */
#define SHM_OP_ALLOC    1   /* a0 = bytes -> a1 = block gpa, a2 = block size (NO_SPACE: a2 = largest idle;
                               QUOTA: a1 = this VM's byte quota, a2 = bytes of it still free,
                               0 when its block quota is used up) */
#define SHM_OP_FREE     2   /* a0 = block gpa */
#define SHM_OP_SEND     3   /* a0 = block gpa, a1 = length (1..block size), a2 = destination VM */
#define SHM_OP_RECV     4   /* -> a0 = block gpa, a1 = length, a2 = sender VM; waits */
#define SHM_OP_POLL     5   /* as RECV, never waits */
#define SHM_OP_WAIT     6   /* waits for this VM's doorbell */
#define SHM_OP_REPORT   7   /* a0 = messages verified, a1 = bytes verified, a2 = errors */
#define SHM_OP_YIELD    8   /* gives up the host CPU in one-thread mode */

/* Status codes (request.status; BAD_MAILBOX appears in mailbox.error). */
#define SHM_OK                  0
#define SHM_BAD_OP              1
#define SHM_BAD_SIZE            2
#define SHM_NO_SPACE            3
#define SHM_BAD_ADDRESS         4
#define SHM_NOT_OWNER           5
#define SHM_BAD_LENGTH          6
#define SHM_NO_SUCH_VM          7
#define SHM_EMPTY               8
#define SHM_NO_MORE_SENDERS     9
#define SHM_BAD_MAILBOX         10
#define SHM_QUOTA               11      /* ALLOC: this VM's block or byte quota would be exceeded */

/*
 * Outcomes the library reports that are not host status codes. NO_ANSWER:
 * `completed` still reads 0xffffffff after the call, so the host never read
 * the mailbox (bad address, or no shared-memory host at all: kvmctl ignores
 * writes to unknown ports). INCOMPLETE: the host answered but processed fewer
 * requests than asked without setting `error`, which the ABI does not allow.
 */
#define SHM_NO_ANSWER           (-1)
#define SHM_INCOMPLETE          (-2)

/* Initial value of request.status: still there after a call = not processed. */
#define SHM_STATUS_UNSET        0xffffffffu

struct shm_request {
    uint32_t op;            /*  0 */
    uint32_t status;        /*  4: out */
    uint64_t a0;            /*  8: in/out */
    uint64_t a1;            /* 16: in/out */
    uint64_t a2;            /* 24: in/out */
};

struct shm_mailbox {
    uint32_t magic;         /*  0: SHM_MAILBOX_MAGIC */
    uint32_t count;         /*  4: requests in this call, 1..127 */
    uint32_t completed;     /*  8: out: requests processed */
    uint32_t error;         /* 12: out: 0 or SHM_BAD_MAILBOX */
    struct shm_request req[SHM_MAX_REQUESTS];   /* 16 + 32 * i */
};

_Static_assert(sizeof(struct shm_request) == 32, "request layout");
_Static_assert(offsetof(struct shm_request, a0) == 8, "request layout");
_Static_assert(offsetof(struct shm_mailbox, req) == 16, "mailbox layout");
_Static_assert(sizeof(struct shm_mailbox) <= 4096, "mailbox fits one page");

/* What shm_init() took from the boot info. */
struct shm_region_info {
    uint64_t base;          /* guest-physical base of the shared region */
    uint64_t size;          /* its size in bytes */
    uint32_t vm_index;      /* this VM's index */
    uint32_t vm_count;      /* number of VMs */
};

extern struct shm_region_info shm_region;

/*
 * Remembers the shared region and this VM's index and the VM count from the
 * boot info. Returns 0, or -1 (and changes nothing) when the boot info is
 * invalid or there is no shared region.
 */
int shm_init(const struct kvmctl_boot_info *info);

static inline uint64_t shm_base(void) { return shm_region.base; }
static inline uint64_t shm_size(void) { return shm_region.size; }
static inline uint32_t shm_vm_index(void) { return shm_region.vm_index; }
static inline uint32_t shm_vm_count(void) { return shm_region.vm_count; }

/* Whether [gpa, gpa + len) lies inside the shared region (never trust a peer). */
static inline int shm_contains(uint64_t gpa, uint64_t len)
{
    return gpa >= shm_region.base && len <= shm_region.size &&
           gpa - shm_region.base <= shm_region.size - len;
}

/*
 * Single requests, one exit each; each returns the status (see above). Out
 * parameters may be NULL and are written only on SHM_OK, except that
 * shm_alloc() also stores the largest idle block's size in *size on
 * SHM_NO_SPACE, and the bytes left in this VM's quota on SHM_QUOTA.
 */
int shm_alloc(uint64_t bytes, uint64_t *gpa, uint64_t *size);
int shm_free(uint64_t gpa);
int shm_send(uint64_t gpa, uint64_t len, uint32_t dest);
int shm_recv(uint64_t *gpa, uint64_t *len, uint32_t *from);     /* waits */
int shm_poll(uint64_t *gpa, uint64_t *len, uint32_t *from);     /* SHM_EMPTY if none */
int shm_wait(void);
int shm_report(uint64_t msgs, uint64_t bytes, uint64_t errors);
int shm_yield(void);

/*
 * Doorbell of VM `vm`: wakes it if it waits in RECV or WAIT. Handled in the
 * kernel (ioeventfd), so much cheaper than a call. A byte `out`: the ABI
 * allows any size, but kvmctl's hub registers 1-byte ioeventfds, and a wider
 * write would reach user space as an unknown port, ringing nothing. VMs 16
 * and up have no doorbell; ringing one does nothing.
 */
static inline void shm_ring(uint32_t vm)
{
    if (vm < SHM_MAX_DOORBELLS)
        outb((uint16_t)(SHM_PORT_DOORBELL + vm), 0);
}

/*
 * Batches. shm_batch_begin() empties the mailbox; shm_batch_add() appends a
 * request and returns it (NULL when 127 are queued), so that its status and
 * outputs can be read after the call; shm_batch_call() makes the call and
 * returns SHM_OK when the host processed every request (each request's own
 * status is then in its `status` field), otherwise SHM_BAD_MAILBOX,
 * SHM_NO_ANSWER or SHM_INCOMPLETE. Requests not processed keep status
 * SHM_STATUS_UNSET. A batch may be called again after reading its results.
 */
void shm_batch_begin(void);
struct shm_request *shm_batch_add(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2);
int shm_batch_call(void);

/* The name of a status code or library outcome ("OK", "NO_SPACE", ...). */
const char *shm_status_name(int status);

/*
 * Raw access, for tests that build invalid calls: the library's mailbox, and
 * the bare call (`out 0x510, eax` with EAX = `gpa`) that sets nothing and
 * checks nothing. Everything else in this header goes through these two.
 */
struct shm_mailbox *shm_mailbox(void);

static inline void shm_call_at(uint32_t gpa)
{
    /*
     * The "memory" clobber in outl() is the compiler barrier the ABI needs:
     * every store to the mailbox is emitted before the out, and every field is
     * loaded again after it. No fence: x86 stores are not reordered with a
     * later out, and the host reads the mailbox only after the exit.
     */
    outl(SHM_PORT_CALL, gpa);
}

#endif /* KVMCTL_SHM_H */
