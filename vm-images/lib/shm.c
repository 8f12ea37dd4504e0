/*
 * shm.c - calls of the shared-memory ABI (docs/shared-memory-abi.md) through
 * one static mailbox page. See include/kvmctl_shm.h for the API.
 *
 * Built with -mgeneral-regs-only like the rest of lib/, so any guest may link
 * it, whatever ring it runs at.
 */
#include "kvmctl_shm.h"

struct shm_region_info shm_region;

/*
 * The ABI wants a 4 KiB-aligned page in the caller's RAM. The image is linked
 * at 1 MiB and RAM sits below the shared slots at 4 GiB, so its address fits
 * in EAX; the _Static_assert in the header keeps it within one page.
 */
static struct shm_mailbox mailbox __attribute__((aligned(4096)));
static uint32_t batch_count;

int shm_init(const struct kvmctl_boot_info *info)
{
    if (!kvmctl_boot_info_valid(info) || info->shared_base == 0 || info->shared_size == 0)
        return -1;
    shm_region.base = info->shared_base;
    shm_region.size = info->shared_size;
    shm_region.vm_index = info->vm_index;
    shm_region.vm_count = info->vm_count;
    return 0;
}

struct shm_mailbox *shm_mailbox(void)
{
    return &mailbox;
}

void shm_batch_begin(void)
{
    batch_count = 0;
}

struct shm_request *shm_batch_add(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2)
{
    if (batch_count >= SHM_MAX_REQUESTS)
        return NULL;
    struct shm_request *r = &mailbox.req[batch_count++];
    r->op = op;
    r->status = SHM_STATUS_UNSET;
    r->a0 = a0;
    r->a1 = a1;
    r->a2 = a2;
    return r;
}

int shm_batch_call(void)
{
    mailbox.magic = SHM_MAILBOX_MAGIC;
    mailbox.count = batch_count;
    mailbox.completed = SHM_NOT_COMPLETED;
    mailbox.error = 0;
    shm_call_at((uint32_t)(uintptr_t)&mailbox);
    if (mailbox.completed == SHM_NOT_COMPLETED)
        return SHM_NO_ANSWER;
    if (mailbox.error != 0)
        return mailbox.error == SHM_BAD_MAILBOX ? SHM_BAD_MAILBOX : SHM_INCOMPLETE;
    if (mailbox.completed != batch_count)
        return SHM_INCOMPLETE;
    return SHM_OK;
}

/* One request, one exit: the request's status, or the call's outcome when it failed. */
static int call1(uint32_t op, uint64_t a0, uint64_t a1, uint64_t a2, struct shm_request **out)
{
    shm_batch_begin();
    struct shm_request *r = shm_batch_add(op, a0, a1, a2);
    int s = shm_batch_call();
    *out = r;
    return s != SHM_OK ? s : (int)r->status;
}

int shm_alloc(uint64_t bytes, uint64_t *gpa, uint64_t *size)
{
    struct shm_request *r;
    int s = call1(SHM_OP_ALLOC, bytes, 0, 0, &r);
    if (s == SHM_OK && gpa)
        *gpa = r->a1;
    if ((s == SHM_OK || s == SHM_NO_SPACE || s == SHM_QUOTA) && size)
        *size = r->a2;
    return s;
}

int shm_free(uint64_t gpa)
{
    struct shm_request *r;
    return call1(SHM_OP_FREE, gpa, 0, 0, &r);
}

int shm_send(uint64_t gpa, uint64_t len, uint32_t dest)
{
    struct shm_request *r;
    return call1(SHM_OP_SEND, gpa, len, dest, &r);
}

static int receive(uint32_t op, uint64_t *gpa, uint64_t *len, uint32_t *from)
{
    struct shm_request *r;
    int s = call1(op, 0, 0, 0, &r);
    if (s == SHM_OK) {
        if (gpa)
            *gpa = r->a0;
        if (len)
            *len = r->a1;
        if (from)
            *from = (uint32_t)r->a2;
    }
    return s;
}

int shm_recv(uint64_t *gpa, uint64_t *len, uint32_t *from)
{
    return receive(SHM_OP_RECV, gpa, len, from);
}

int shm_poll(uint64_t *gpa, uint64_t *len, uint32_t *from)
{
    return receive(SHM_OP_POLL, gpa, len, from);
}

int shm_wait(void)
{
    struct shm_request *r;
    return call1(SHM_OP_WAIT, 0, 0, 0, &r);
}

int shm_report(uint64_t msgs, uint64_t bytes, uint64_t errors)
{
    struct shm_request *r;
    return call1(SHM_OP_REPORT, msgs, bytes, errors, &r);
}

int shm_yield(void)
{
    struct shm_request *r;
    return call1(SHM_OP_YIELD, 0, 0, 0, &r);
}

const char *shm_status_name(int status)
{
    static const char *const names[] = {
        "OK", "BAD_OP", "BAD_SIZE", "NO_SPACE", "BAD_ADDRESS", "NOT_OWNER",
        "BAD_LENGTH", "NO_SUCH_VM", "EMPTY", "NO_MORE_SENDERS", "BAD_MAILBOX",
        "QUOTA",
    };

    if (status == SHM_NO_ANSWER)
        return "NO_ANSWER";
    if (status == SHM_INCOMPLETE)
        return "INCOMPLETE";
    if (status >= 0 && status < (int)(sizeof names / sizeof names[0]))
        return names[status];
    return "UNKNOWN";
}
