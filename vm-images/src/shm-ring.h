/*
 * shm-ring.h - single-producer/single-consumer rings of block handles in the
 * shared region (docs/shared-memory-abi.md, "Rings"). Plain GNU C with no
 * dependency on the guest library: the guests include it, and so does the host
 * baseline scripts/bench/ring-bench.c, so that both run the same ring code.
 *
 * A ring carries messages from one peer (its producer) to another (its
 * consumer). Layout, little-endian, at a 64-byte aligned address:
 *
 *   offset   0  u64 head           entries published (free-running); producer writes
 *   offset   8  u32 prod_waiting   1: the producer sleeps, waiting for space
 *   offset  64  u64 tail           entries released (free-running); consumer writes
 *   offset  72  u32 cons_waiting   1: the consumer sleeps, waiting for messages
 *   offset 128  entries[n], 16 bytes each: u64 block offset (from the region's
 *               start), u32 length, u32 reserved (0)
 *
 * n is a power of two; entry i lives at index i & (n - 1). head and tail sit on
 * separate cache lines so that each line has one writer. A block handed over
 * stays the producer's (the host charges it to the producer): the consumer
 * gives it back by moving tail past it, in order, and the producer may then
 * reuse or FREE it.
 *
 * Ordering (x86-64, TSO): the producer writes the entries, then stores head
 * with release semantics (a plain store after a compiler barrier); the consumer
 * loads head with acquire semantics (a plain load before a compiler barrier),
 * then reads the entries. The same for tail in the other direction. Sleeping
 * is a Dekker handshake: the sleeper stores its waiting flag, a full fence
 * (mfence), then loads the other index once more; the waker stores its index,
 * a full fence, then loads the flag and rings the doorbell if it is set. One
 * of the two always sees the other's store, so no wake-up is lost.
 *
 * Each side keeps its own index in private memory and never reads it back from
 * the ring: a peer can only lie about its own index, and every index read from
 * the ring is checked (head - tail <= n for the consumer; the new tail within
 * [old tail, head] for the producer) and every entry (offset + length inside
 * the region) before use. A failed check means the peer is broken: the caller
 * stops using the ring. No loop depends on a value read from the ring beyond
 * those checks, so a hostile peer cannot make this side read outside the
 * region or loop forever.
 */
#ifndef SHM_RING_H
#define SHM_RING_H

#include <stdint.h>

#define SHM_RING_HEADER         128u
#define SHM_RING_ENTRY_SIZE     16u
#define SHM_RING_MAX_ENTRIES    65536u

struct shm_ring_entry {
    uint64_t offset;        /* block offset from the start of the region */
    uint32_t length;        /* message bytes, 1..block size */
    uint32_t reserved;
};

struct shm_ring {
    uint64_t head;          /*   0: producer's line */
    uint32_t prod_waiting;  /*   8 */
    uint8_t pad0[52];
    uint64_t tail;          /*  64: consumer's line */
    uint32_t cons_waiting;  /*  72 */
    uint8_t pad1[52];
    struct shm_ring_entry e[];  /* 128 */
};

_Static_assert(sizeof(struct shm_ring) == SHM_RING_HEADER, "ring header layout");
_Static_assert(sizeof(struct shm_ring_entry) == SHM_RING_ENTRY_SIZE, "ring entry layout");

/* Bytes one ring of n entries takes (a multiple of 64). */
static inline uint64_t shm_ring_bytes(uint32_t n)
{
    return SHM_RING_HEADER + (uint64_t)n * SHM_RING_ENTRY_SIZE;
}

static inline void shm_ring_full_fence(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* The producer's private side of a ring. */
struct ring_tx {
    struct shm_ring *r;
    uint64_t head;          /* next entry to publish (ours) */
    uint64_t pending;       /* entries written since the last publish */
    uint64_t tail;          /* the consumer's tail, last checked value */
    uint32_t mask;
};

/* The consumer's private side. */
struct ring_rx {
    struct shm_ring *r;
    uint64_t tail;          /* next entry to read (ours) */
    uint64_t head;          /* the producer's head, last checked value */
    uint64_t region_size;   /* entries must lie inside [0, region_size) */
    uint32_t mask;
};

static inline void ring_tx_init(struct ring_tx *t, struct shm_ring *r, uint32_t n)
{
    t->r = r;
    t->head = 0;
    t->pending = 0;
    t->tail = 0;
    t->mask = n - 1;
}

static inline void ring_rx_init(struct ring_rx *x, struct shm_ring *r, uint32_t n, uint64_t region_size)
{
    x->r = r;
    x->tail = 0;
    x->head = 0;
    x->region_size = region_size;
    x->mask = n - 1;
}

/*
 * Free entries now (0..n), after reading the consumer's tail; -1 when that
 * tail is impossible (behind the last one seen or past head): a broken peer.
 */
static inline int64_t ring_tx_free(struct ring_tx *t)
{
    uint64_t tail = __atomic_load_n(&t->r->tail, __ATOMIC_ACQUIRE);
    if (tail - t->tail > t->head - t->tail)
        return -1;
    t->tail = tail;
    return (int64_t)(t->mask + 1) - (int64_t)(t->head - tail);
}

/* Entries the consumer has not released yet (by the last ring_tx_free). */
static inline uint64_t ring_tx_in_flight(const struct ring_tx *t)
{
    return t->head - t->tail;
}

/* Writes one entry; the caller checked there was room. Visible at the next publish. */
static inline void ring_tx_put(struct ring_tx *t, uint64_t offset, uint32_t length)
{
    struct shm_ring_entry *e = &t->r->e[t->head & t->mask];
    e->offset = offset;
    e->length = length;
    e->reserved = 0;
    t->head++;
    t->pending++;
}

/*
 * Publishes the entries put since the last call (release store of head).
 * Returns 1 when the consumer sleeps and its doorbell must ring, else 0.
 */
static inline int ring_tx_publish(struct ring_tx *t)
{
    if (!t->pending)
        return 0;
    t->pending = 0;
    __atomic_store_n(&t->r->head, t->head, __ATOMIC_RELEASE);
    shm_ring_full_fence();
    return __atomic_load_n(&t->r->cons_waiting, __ATOMIC_RELAXED) != 0;
}

/*
 * Messages ready now, after reading the producer's head; -1 when that head is
 * impossible (more than n ahead of our tail, or behind it): a broken peer.
 */
static inline int64_t ring_rx_ready(struct ring_rx *x)
{
    uint64_t head = __atomic_load_n(&x->r->head, __ATOMIC_ACQUIRE);
    if (head - x->tail > (uint64_t)x->mask + 1)
        return -1;
    x->head = head;
    return (int64_t)(head - x->tail);
}

/*
 * Reads entry tail + i (i < ready) once into *offset and *length. Returns 0, or -1
 * when the entry does not lie inside the region or has length 0.
 */
static inline int ring_rx_peek(const struct ring_rx *x, uint64_t i, uint64_t *offset, uint32_t *length)
{
    const volatile struct shm_ring_entry *e = &x->r->e[(x->tail + i) & x->mask];
    uint64_t o = e->offset;
    uint32_t l = e->length;
    if (l == 0 || o >= x->region_size || l > x->region_size - o)
        return -1;
    *offset = o;
    *length = l;
    return 0;
}

/*
 * Releases the n oldest messages (n <= ready): their blocks go back to the
 * producer. Returns 1 when the producer sleeps and its doorbell must ring.
 */
static inline int ring_rx_release(struct ring_rx *x, uint64_t n)
{
    x->tail += n;
    __atomic_store_n(&x->r->tail, x->tail, __ATOMIC_RELEASE);
    shm_ring_full_fence();
    return __atomic_load_n(&x->r->prod_waiting, __ATOMIC_RELAXED) != 0;
}

/*
 * Before sleeping: raise the flag, fence, look again. Returns the value the
 * matching ready/free call gives now; if it is still 0 (nothing to do), sleep,
 * then call ring_*_awake(). Otherwise call ring_*_awake() at once.
 */
static inline int64_t ring_rx_prepare_sleep(struct ring_rx *x)
{
    __atomic_store_n(&x->r->cons_waiting, 1, __ATOMIC_RELAXED);
    shm_ring_full_fence();
    return ring_rx_ready(x);
}

static inline void ring_rx_awake(struct ring_rx *x)
{
    __atomic_store_n(&x->r->cons_waiting, 0, __ATOMIC_RELAXED);
}

static inline int64_t ring_tx_prepare_sleep(struct ring_tx *t)
{
    __atomic_store_n(&t->r->prod_waiting, 1, __ATOMIC_RELAXED);
    shm_ring_full_fence();
    return ring_tx_free(t);
}

static inline void ring_tx_awake(struct ring_tx *t)
{
    __atomic_store_n(&t->r->prod_waiting, 0, __ATOMIC_RELAXED);
}

/*
 * The benchmark's and tests' message of `size` bytes (size >= 8), number
 * `seq`: the bytes of ring_pattern() with the first 8 replaced by seq
 * (little-endian). Producers copy it from a source buffer, consumers compare
 * against their own copy; Java (RingPattern) builds the same bytes.
 */
static inline uint8_t ring_pattern(uint64_t i)
{
    return (uint8_t)((uint32_t)(i * 2654435761u) >> 24);
}

#endif /* SHM_RING_H */
