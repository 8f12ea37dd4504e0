/*
 * The C baseline of scripts/bench-cold-switch.sh: what `kvmctl launch --one-thread --switch cold`
 * does, with plain ioctls and the same design as kvmctl's VmPool. VMS ring-3 guests (a `jmp .`
 * loop, no exits), each with MIB MiB of memfd RAM, run on this one thread; a one-shot timer
 * (SIGALRM, whose handler sets kvm_run.immediate_exit) ends each slice after QUANTUM_US. Every
 * switch is cold: capture the outgoing guest's context (bench-context.h), hand its VM to a closer
 * thread, take the incoming guest's next VM, made ahead of time by a preparer thread (KVM_CREATE_VM,
 * its RAM slot, KVM_CREATE_VCPU, kvm_run mapped, and KVM_SET_CPUID2 with the guest's CPUID once it
 * has been captured; one per guest, as the pool's depth of one), and restore the rest of its
 * context into it. If its VM is not ready yet the switch waits for it (counted). Both helper threads
 * are SCHED_BATCH, as VmPool's are.
 *
 * Usage: cold-switch [SECONDS [QUANTUM_US [VMS [MIB]]]] (defaults 5, 1000, 2, 64). Prints
 * "key value" lines: switch latency (slice end to the next KVM_RUN, as the Switcher's
 * switch_latency_us) and its capture and restore parts, in µs (p50, p99, mean), the switches that
 * waited for their VM, and the guest-time share (time inside KVM_RUN / wall time, in %).
 */
#include "bench-common.h"
#include "bench-context.h"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/time.h>

#define MAX_VMS 64

struct guest {
    uint8_t *mem;
    struct bench_vm vm;     /* the installed VM */
    struct bench_vm next;   /* the prepared one, if ready */
    int ready;
    int next_has_cpuid;     /* whether the preparer set the CPUID on it */
    struct context ctx;
    /* The CPUID the preparer sets, copied from the first capture (it cannot change once run). */
    struct { struct kvm_cpuid2 c; struct kvm_cpuid_entry2 e[256]; } cpuid;
    int has_cpuid;
};

static int kvm_fd, vms, run_size;
static size_t ram_bytes;
static struct guest guests[MAX_VMS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t want = PTHREAD_COND_INITIALIZER, made = PTHREAD_COND_INITIALIZER, closing = PTHREAD_COND_INITIALIZER;
static struct bench_vm retired[MAX_VMS * 4];
static int retired_n, stopping;

static struct kvm_run *volatile armed;

static void on_alarm(int sig)
{
    (void)sig;
    struct kvm_run *r = armed;
    if (r)
        r->immediate_exit = 1;
}

static void make_vm(uint8_t *mem, struct bench_vm *b)
{
    b->mem = mem;
    b->vm = ioctl(kvm_fd, KVM_CREATE_VM, 0);
    if (b->vm < 0)
        die("KVM_CREATE_VM");
    struct kvm_userspace_memory_region region = { .slot = 0, .memory_size = ram_bytes, .userspace_addr = (uint64_t)mem };
    if (ioctl(b->vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
        die("KVM_SET_USER_MEMORY_REGION");
    b->vcpu = ioctl(b->vm, KVM_CREATE_VCPU, 0);
    if (b->vcpu < 0)
        die("KVM_CREATE_VCPU");
    b->run_size = run_size;
    b->run = mmap(NULL, run_size, PROT_READ | PROT_WRITE, MAP_SHARED, b->vcpu, 0);
    if (b->run == MAP_FAILED)
        die("mmap kvm_run");
}

/* As VmPool's threads: woken by a switch, a helper does not preempt the switching thread (best effort). */
static void no_wakeup_preemption(void)
{
    struct sched_param p = { 0 };
    sched_setscheduler(0, SCHED_BATCH, &p);
}

/* Makes the next VM of every guest that has none ready, round and round, until stopped. */
static void *preparer(void *arg)
{
    (void)arg;
    no_wakeup_preemption();
    pthread_mutex_lock(&lock);
    while (!stopping) {
        int i;
        for (i = 0; i < vms && guests[i].ready; i++)
            ;
        if (i == vms) {
            pthread_cond_wait(&want, &lock);
            continue;
        }
        int with_cpuid = guests[i].has_cpuid; /* the copy never changes once it is set */
        pthread_mutex_unlock(&lock);
        struct bench_vm b;
        make_vm(guests[i].mem, &b);
        if (with_cpuid)
            IOCTL(b.vcpu, KVM_SET_CPUID2, &guests[i].cpuid);
        pthread_mutex_lock(&lock);
        guests[i].next = b;
        guests[i].next_has_cpuid = with_cpuid;
        guests[i].ready = 1;
        pthread_cond_broadcast(&made);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

/* Closes retired VMs until stopped and none is left. */
static void *closer(void *arg)
{
    (void)arg;
    no_wakeup_preemption();
    pthread_mutex_lock(&lock);
    while (!stopping || retired_n > 0) {
        if (retired_n == 0) {
            pthread_cond_wait(&closing, &lock);
            continue;
        }
        struct bench_vm b = retired[--retired_n];
        pthread_mutex_unlock(&lock);
        bench_vm_destroy(&b);
        pthread_mutex_lock(&lock);
    }
    pthread_mutex_unlock(&lock);
    return NULL;
}

static uint8_t *guest_ram(void)
{
    int fd = memfd_create("cold-switch-ram", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, ram_bytes) < 0)
        die("memfd_create");
    uint8_t *mem = mmap(NULL, ram_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (mem == MAP_FAILED)
        die("mmap");
    close(fd);
    mem[0x100000] = 0xeb; /* jmp . */
    mem[0x100001] = 0xfe;
    return mem;
}

static void arm(struct kvm_run *run, long quantum_us)
{
    struct itimerval t = { .it_value = { .tv_sec = quantum_us / 1000000, .tv_usec = quantum_us % 1000000 } };
    armed = run;
    if (setitimer(ITIMER_REAL, &t, NULL) < 0)
        die("setitimer");
}

static void disarm(struct kvm_run *run)
{
    struct itimerval off = { 0 };
    setitimer(ITIMER_REAL, &off, NULL);
    armed = NULL; /* the handler runs on this thread only: from here on it touches no kvm_run */
    run->immediate_exit = 0;
}

static int compare_long(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? -1 : x > y;
}

static void print_latency(const char *name, long *ns, long n)
{
    if (n == 0) {
        printf("%s 0 0 0\n", name);
        return;
    }
    double sum = 0;
    for (long i = 0; i < n; i++)
        sum += ns[i];
    qsort(ns, n, sizeof ns[0], compare_long);
    long p50 = ns[(n + 1) / 2 - 1], p99 = ns[(99 * n + 99) / 100 - 1];
    printf("%s %.1f %.1f %.1f\n", name, p50 / 1e3, p99 / 1e3, sum / n / 1e3);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    long quantum_us = argc > 2 ? atol(argv[2]) : 1000;
    vms = argc > 3 ? atoi(argv[3]) : 2;
    long mib = argc > 4 ? atol(argv[4]) : 64;
    if (seconds <= 0 || quantum_us < 1 || vms < 1 || vms > MAX_VMS || mib < 4) {
        fprintf(stderr, "usage: cold-switch [SECONDS [QUANTUM_US [VMS (1-%d) [MIB (>= 4)]]]]\n", MAX_VMS);
        return 2;
    }
    ram_bytes = (size_t)mib << 20;
    kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (kvm_fd < 0)
        die("open /dev/kvm");
    run_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < 0)
        die("KVM_GET_VCPU_MMAP_SIZE");
    for (int i = 0; i < vms; i++) {
        guests[i].mem = guest_ram();
        make_vm(guests[i].mem, &guests[i].vm);
        setup_long_mode(kvm_fd, guests[i].vm.vcpu, guests[i].mem);
    }
    learn_msrs(kvm_fd, guests[0].vm.vcpu);

    /* The helpers never take SIGALRM: it is for this thread's KVM_RUN. */
    sigset_t alarm_set;
    sigemptyset(&alarm_set);
    sigaddset(&alarm_set, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alarm_set, NULL);
    pthread_t prep, clos;
    if (pthread_create(&prep, NULL, preparer, NULL) || pthread_create(&clos, NULL, closer, NULL))
        die("pthread_create");
    pthread_sigmask(SIG_UNBLOCK, &alarm_set, NULL);
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);

    long cap = (long)(seconds * 1e6 / quantum_us) * 2 + 16;
    long *sw = malloc(cap * sizeof *sw), *cap_ns = malloc(cap * sizeof *cap_ns), *res_ns = malloc(cap * sizeof *res_ns);
    if (!sw || !cap_ns || !res_ns)
        die("malloc");
    long n = 0, waits = 0;
    double guest_ns = 0, start = now_ns(), end = start + seconds * 1e9, slice_end = 0;
    int cur = 0, started = 0;
    while (n < cap) {
        struct guest *g = &guests[cur];
        double in0 = now_ns();
        int cold = started >= vms; /* every guest has run: this one was switched out cold */
        if (cold) {
            pthread_mutex_lock(&lock);
            if (!g->ready)
                waits++;
            while (!g->ready)
                pthread_cond_wait(&made, &lock);
            g->vm = g->next;
            g->ready = 0;
            int cpuid_set = g->next_has_cpuid;
            pthread_cond_signal(&want);
            pthread_mutex_unlock(&lock);
            restore_state(&g->vm, &g->ctx, !cpuid_set);
        } else {
            started++;
        }
        arm(g->vm.run, quantum_us);
        double t0 = now_ns();
        if (cold) { /* a guest's first start is no switch, as in the Switcher's figures */
            sw[n] = (long)(t0 - slice_end);
            res_ns[n] = (long)(t0 - in0);
            n++;
        }
        int r = ioctl(g->vm.vcpu, KVM_RUN, 0);
        if (r >= 0 || errno != EINTR) {
            fprintf(stderr, "cold-switch: unexpected exit %d from the guest\n", r >= 0 ? (int)g->vm.run->exit_reason : -errno);
            return 1;
        }
        disarm(g->vm.run);
        slice_end = now_ns();
        guest_ns += slice_end - t0;
        if (slice_end >= end)
            break;
        capture(&g->vm, &g->ctx);
        pthread_mutex_lock(&lock);
        if (!g->has_cpuid) {
            memcpy(&g->cpuid, &g->ctx.cpuid, sizeof g->cpuid);
            g->has_cpuid = 1;
        }
        if (retired_n == (int)(sizeof retired / sizeof retired[0])) {
            pthread_mutex_unlock(&lock);
            bench_vm_destroy(&g->vm); /* the closer is far behind: close it here, as VmPool does */
        } else {
            retired[retired_n++] = g->vm;
            pthread_cond_signal(&closing);
            pthread_mutex_unlock(&lock);
        }
        if (cold || started == vms)
            cap_ns[n] = (long)(now_ns() - slice_end);
        cur = (cur + 1) % vms;
    }
    double wall = now_ns() - start;
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_broadcast(&want);
    pthread_cond_broadcast(&closing);
    pthread_mutex_unlock(&lock);
    pthread_join(prep, NULL);
    pthread_join(clos, NULL);

    printf("switches %ld\n", n);
    printf("waited_for_vm %ld\n", waits);
    print_latency("switch_latency_us", sw, n);
    print_latency("capture_us", cap_ns, n);
    print_latency("restore_us", res_ns, n);
    printf("guest_time_pct %.1f\n", 100 * guest_ns / wall);
    return 0;
}
