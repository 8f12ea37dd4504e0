/*
 * The C baseline for kvmctl's checkpoint reset benchmark (scripts/bench-reset.sh).
 *
 *   reset-bench RAM_MIB K N
 *
 * A ring-3 guest (the boot layout of bench-common.h, RAM a memfd of RAM_MIB MiB in one slot with
 * KVM_MEM_LOG_DIRTY_PAGES) writes K pages, every other page from 4 MiB up (so no two are
 * adjacent), and exits with an `out` to port 0xf4. After a checkpoint (the vCPU state and a copy
 * of RAM), each reset is: KVM_RUN to that exit, fetch the dirty log, copy the dirty pages back from
 * the copy, page by page, and restore the vCPU. Variants, one line each:
 *   plain-regs       KVM_GET_DIRTY_LOG (fetch and re-protect), restore the registers only
 *   plain-full       KVM_GET_DIRTY_LOG, restore MP state, regs, sregs, XSAVE, XCRs, debug regs,
 *                    vCPU events (Firecracker's order, CPUID left as it is: a guest cannot change it)
 *   clear-full       with KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: KVM_GET_DIRTY_LOG (fetch only), the
 *                    copy, then KVM_CLEAR_DIRTY_LOG of the same bits (re-protects just those
 *                    pages); restores as plain-full. Left out when the kernel lacks the capability.
 *   ring-full        with KVM_CAP_DIRTY_LOG_RING: no bitmap at all; the vCPU's dirty ring (mapped
 *                    from its fd) names each page the guest wrote; the copy harvests the ring's
 *                    entries, then KVM_RESET_DIRTY_RINGS re-protects those pages; restores as
 *                    plain-full. Left out when the kernel lacks the capability.
 *   sync-full        KVM_GET_DIRTY_LOG; the same state as plain-full, but regs, sregs and vCPU
 *                    events through kvm_run's sync regs (KVM_CAP_SYNC_REGS: written into
 *                    kvm_run.s.regs and flagged in kvm_dirty_regs, KVM applies them at the next
 *                    KVM_RUN's entry: 3 ioctls fewer); MP state, XSAVE, XCRs and debug regs by
 *                    ioctl first. Left out when the kernel does not sync all three sets.
 *   plain-full-msrs  plain-full plus every saveable MSR (as kvmctl's Checkpoint restores)
 *   sticky-sync      the baseline of kvmctl's Checkpoint.Tracking.KEEP_WRITABLE only (the script
 *                    shows it in a row of its own): as sync-full, but with
 *                    KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 and no KVM_CLEAR_DIRTY_LOG after the copy,
 *                    so a page the guest wrote once stays writable and dirty: it is copied back
 *                    at every reset from then on and never write-faults again. Trades ~2.4 us of
 *                    fault per page and run for a 4 KiB copy per page ever written. Checkpoint
 *                    re-protects the set when it outgrows a limit (an eighth of the slot); this
 *                    guest's K pages stay under it, so neither side ever does here. Left out as
 *                    clear-full and sync-full are.
 * Prints "name ns/reset ..." lines: ns per reset in each of ROUNDS rounds, after a warm-up round.
 * Checks after the warm-up that a reset gave back the checkpoint's bytes (all of RAM against the
 * copy: for sticky-sync, a reset of pages written in earlier runs too) and registers.
 */
#include "bench-context.h"

#define ROUNDS 7
#define PAGE 4096ul
#define DIRTY_BASE 0x400000ul

#ifndef KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2
#define KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2 168
#endif

#ifndef KVM_CAP_DIRTY_LOG_RING
#define KVM_CAP_DIRTY_LOG_RING 192
#endif

/* mov ecx, K; mov edi, 0x400000; 1: test ecx, ecx; jz 2f; mov [rdi], ecx; add edi, 0x2000;
 * dec ecx; jmp 1b; 2: mov dx, 0xf4; out dx, al; jmp $ */
static const uint8_t guest[] = {
    0xb9, 0, 0, 0, 0, 0xbf, 0x00, 0x00, 0x40, 0x00, 0x85, 0xc9, 0x74, 0x0c, 0x89, 0x0f,
    0x81, 0xc7, 0x00, 0x20, 0x00, 0x00, 0xff, 0xc9, 0xeb, 0xf0, 0x66, 0xba, 0xf4, 0x00, 0xee,
    0xeb, 0xfe,
};

/* Entries of a dirty ring: 64 KiB, room for every page a run here writes (K is at most 1024). */
#define RING_ENTRIES 4096u

enum mode { PLAIN_REGS, PLAIN_FULL, CLEAR_FULL, RING_FULL, SYNC_FULL, PLAIN_FULL_MSRS, STICKY_SYNC, MODES };
static const char *names[MODES] = { "plain-regs", "plain-full", "clear-full", "ring-full", "sync-full", "plain-full-msrs",
                                    "sticky-sync" };

#define SYNC_ALL (KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS | KVM_SYNC_X86_EVENTS)

struct bench {
    int vm, vcpu;
    size_t size;
    uint8_t *mem, *copy;
    uint64_t *bitmap;
    size_t words;
    struct kvm_run *run;
    struct kvm_dirty_gfn *ring; /* RING_FULL only */
    uint32_t ring_next;         /* the next ring entry to harvest */
    struct context ctx;
    enum mode mode;
};

/* Puts back as much of the checkpoint's vCPU state as the mode restores (captured by capture_vcpu). */
static void restore_vcpu(struct bench *b)
{
    struct context *c = &b->ctx;
    if (b->mode == PLAIN_REGS) {
        IOCTL(b->vcpu, KVM_SET_REGS, &c->regs);
        return;
    }
    IOCTL(b->vcpu, KVM_SET_MP_STATE, &c->mp);
    if (b->mode == SYNC_FULL || b->mode == STICKY_SYNC) {
        /* KVM's sync_regs applies regs, sregs, events (in that order) at the next KVM_RUN's
         * entry, after these: none of them depends on what sregs set here (no LAPIC, no MSRs). */
        IOCTL(b->vcpu, KVM_SET_XSAVE, &c->xsave);
        IOCTL(b->vcpu, KVM_SET_XCRS, &c->xcrs);
        IOCTL(b->vcpu, KVM_SET_DEBUGREGS, &c->debugregs);
        b->run->s.regs.regs = c->regs;
        b->run->s.regs.sregs = c->sregs;
        b->run->s.regs.events = c->events;
        b->run->kvm_dirty_regs = SYNC_ALL;
        return;
    }
    IOCTL(b->vcpu, KVM_SET_REGS, &c->regs);
    IOCTL(b->vcpu, KVM_SET_SREGS, &c->sregs);
    IOCTL(b->vcpu, KVM_SET_XSAVE, &c->xsave);
    IOCTL(b->vcpu, KVM_SET_XCRS, &c->xcrs);
    IOCTL(b->vcpu, KVM_SET_DEBUGREGS, &c->debugregs);
    if (b->mode == PLAIN_FULL_MSRS && ioctl(b->vcpu, KVM_SET_MSRS, &c->msrs) != msr_count)
        die("KVM_SET_MSRS");
    IOCTL(b->vcpu, KVM_SET_VCPU_EVENTS, &c->events);
}

static void get_log(struct bench *b)
{
    struct kvm_dirty_log log = { .slot = 0, .dirty_bitmap = b->bitmap };
    IOCTL(b->vm, KVM_GET_DIRTY_LOG, &log);
}

static void clear_log(struct bench *b)
{
    struct kvm_clear_dirty_log clear = { .slot = 0, .first_page = 0, .num_pages = b->size / PAGE, .dirty_bitmap = b->bitmap };
    IOCTL(b->vm, KVM_CLEAR_DIRTY_LOG, &clear);
}

/* Copies back (when copy is set) every page the ring names, hands the entries back, re-protects. */
static void harvest_ring(struct bench *b, int copy)
{
    for (;;) {
        struct kvm_dirty_gfn *e = &b->ring[b->ring_next % RING_ENTRIES];
        if (!(__atomic_load_n(&e->flags, __ATOMIC_ACQUIRE) & KVM_DIRTY_GFN_F_DIRTY))
            break;
        if (copy && e->slot == 0 && e->offset < b->size / PAGE)
            memcpy(b->mem + e->offset * PAGE, b->copy + e->offset * PAGE, PAGE);
        __atomic_store_n(&e->flags, KVM_DIRTY_GFN_F_RESET, __ATOMIC_RELEASE);
        b->ring_next++;
    }
    if (ioctl(b->vm, KVM_RESET_DIRTY_RINGS, 0) < 0)
        die("KVM_RESET_DIRTY_RINGS");
}

static void reset(struct bench *b)
{
    if (b->mode == RING_FULL) {
        harvest_ring(b, 1);
        restore_vcpu(b);
        return;
    }
    get_log(b);
    for (size_t w = 0; w < b->words; w++) {
        for (uint64_t bits = b->bitmap[w]; bits; bits &= bits - 1) {
            size_t off = (w * 64 + __builtin_ctzll(bits)) * PAGE;
            memcpy(b->mem + off, b->copy + off, PAGE);
        }
    }
    if (b->mode == CLEAR_FULL)
        clear_log(b);
    restore_vcpu(b);
}

static void run_to_exit(struct bench *b)
{
    IOCTL(b->vcpu, KVM_RUN, 0);
    if (b->run->exit_reason != KVM_EXIT_IO || b->run->io.port != 0xf4) {
        fprintf(stderr, "bench: unexpected exit %u\n", b->run->exit_reason);
        exit(1);
    }
}

static void setup(int kvm, struct bench *b, size_t size, uint32_t k, enum mode mode)
{
    b->mode = mode;
    b->size = size;
    b->vm = ioctl(kvm, KVM_CREATE_VM, 0);
    if (b->vm < 0)
        die("KVM_CREATE_VM");
    if (mode == CLEAR_FULL || mode == STICKY_SYNC) {
        struct kvm_enable_cap cap = { .cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2,
                                      .args[0] = KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE };
        IOCTL(b->vm, KVM_ENABLE_CAP, &cap);
    }
    if (mode == RING_FULL) { /* before any vCPU exists */
        struct kvm_enable_cap cap = { .cap = KVM_CAP_DIRTY_LOG_RING,
                                      .args[0] = RING_ENTRIES * sizeof(struct kvm_dirty_gfn) };
        IOCTL(b->vm, KVM_ENABLE_CAP, &cap);
    }
    int fd = memfd_create("reset-bench-ram", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, size) < 0)
        die("memfd_create");
    b->mem = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (b->mem == MAP_FAILED)
        die("mmap");
    close(fd);
    memcpy(b->mem + 0x100000, guest, sizeof guest);
    memcpy(b->mem + 0x100001, &k, 4);
    struct kvm_userspace_memory_region region = { .slot = 0, .flags = KVM_MEM_LOG_DIRTY_PAGES,
                                                  .memory_size = size, .userspace_addr = (uint64_t)b->mem };
    IOCTL(b->vm, KVM_SET_USER_MEMORY_REGION, &region);
    b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
    if (b->vcpu < 0)
        die("KVM_CREATE_VCPU");
    int run_size = ioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
    b->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
    if (b->run == MAP_FAILED)
        die("mmap kvm_run");
    if (mode == RING_FULL) {
        b->ring = mmap(NULL, RING_ENTRIES * sizeof(struct kvm_dirty_gfn), PROT_READ | PROT_WRITE, MAP_SHARED,
                       b->vcpu, KVM_DIRTY_LOG_PAGE_OFFSET * PAGE);
        if (b->ring == MAP_FAILED)
            die("mmap dirty ring");
        b->ring_next = 0;
    }
    setup_long_mode(kvm, b->vcpu, b->mem);
    if (msr_count == 0)
        learn_msrs(kvm, b->vcpu);
    /* The checkpoint: the vCPU, a clean log, a copy of RAM. */
    b->words = (size / PAGE + 63) / 64;
    b->bitmap = calloc(b->words, 8);
    capture_vcpu(b->vcpu, &b->ctx);
    if (mode == RING_FULL) {
        harvest_ring(b, 0);
    } else {
        get_log(b);
        if (mode == CLEAR_FULL || mode == STICKY_SYNC) /* the one clear sticky-sync does */
            clear_log(b);
    }
    b->copy = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (b->copy == MAP_FAILED)
        die("mmap copy");
    memcpy(b->copy, b->mem, size);
}

static void check(struct bench *b, uint32_t k)
{
    run_to_exit(b);
    if (k > 0 && *(uint32_t *)(b->mem + DIRTY_BASE) != k)
        die("the guest did not write its first page");
    reset(b);
    struct kvm_regs r;
    if (b->mode == SYNC_FULL || b->mode == STICKY_SYNC)
        r = b->run->s.regs.regs; /* what the next entry loads; KVM_GET_REGS still has the old */
    else
        IOCTL(b->vcpu, KVM_GET_REGS, &r);
    if (memcmp(b->mem, b->copy, b->size) != 0 || r.rip != b->ctx.regs.rip) {
        fprintf(stderr, "bench: %s: a reset did not give back the checkpoint\n", names[b->mode]);
        exit(1);
    }
}

static void teardown(struct bench *b)
{
    if (b->ring)
        munmap(b->ring, RING_ENTRIES * sizeof(struct kvm_dirty_gfn));
    b->ring = NULL;
    close(b->vcpu);
    close(b->vm);
    munmap(b->mem, b->size);
    munmap(b->copy, b->size);
    free(b->bitmap);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: reset-bench RAM_MIB K N\n");
        return 2;
    }
    size_t size = (size_t)atol(argv[1]) << 20;
    uint32_t k = (uint32_t)atol(argv[2]);
    long n = atol(argv[3]);
    if (size < (8u << 20) || size > (1ul << 30) || k > 1024 || n < 1) {
        fprintf(stderr, "reset-bench: RAM 8 to 1024 MiB, K up to 1024, N at least 1\n");
        return 2;
    }
    int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm < 0)
        die("open /dev/kvm");
    int manual = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2);
    int ring = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_DIRTY_LOG_RING); /* the largest ring in bytes */
    int sync = ioctl(kvm, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS); /* the sets KVM syncs */
    fprintf(stderr, "(KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2: %d, KVM_CAP_DIRTY_LOG_RING: %d, KVM_CAP_SYNC_REGS: %d)\n",
            manual, ring, sync);
    for (int m = 0; m < MODES; m++) {
        if (((m == CLEAR_FULL || m == STICKY_SYNC) && manual <= 0)
            || (m == RING_FULL && ring < (int)(RING_ENTRIES * sizeof(struct kvm_dirty_gfn)))
            || ((m == SYNC_FULL || m == STICKY_SYNC) && (sync < 0 || (sync & SYNC_ALL) != SYNC_ALL)))
            continue;
        static struct bench b;
        setup(kvm, &b, size, k, (enum mode)m);
        double t[ROUNDS];
        for (int r = -1; r < ROUNDS; r++) {
            double t0 = now_ns();
            for (long i = 0; i < n; i++) {
                run_to_exit(&b);
                reset(&b);
            }
            double t1 = now_ns();
            if (r >= 0)
                t[r] = (t1 - t0) / n;
            else
                check(&b, k);
        }
        print_rounds(names[m], t, ROUNDS);
        teardown(&b);
    }
    fprintf(stderr, "(%d MSRs)\n", msr_count);
    return 0;
}
