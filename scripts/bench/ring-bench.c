/*
 * The host baseline of scripts/bench-shm.sh: the same exchange as two ring-peer.elf guests, done
 * by two host threads. The producer copies S bytes from its source buffer into a block with
 * memcpy, stores the sequence number in the first 8 bytes and puts the block on a lock-free
 * single-producer/single-consumer ring; the consumer checks the sequence number, compares the
 * rest with memcmp against its own copy of the source and releases the entry. The ring code is
 * the guests' own (vm-images/src/shm-ring.h), with the same 256 entries, pool (about 16 MiB of
 * blocks, 16 to 256 of them) and batches of up to 32; both threads poll (the guests sleep only after 20,000 idle polls, which a
 * busy exchange never reaches).
 *
 *   ring-bench SIZE MESSAGES       prints "host-<SIZE> <MiB/s> <messages/s>"
 *
 * Messages are counted, not timed: each run moves exactly MESSAGES messages. The rate is over the
 * consumer's time from the first message it sees to the last one it releases, as ring-peer.elf
 * measures it with the TSC.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../vm-images/src/shm-ring.h"

#define ENTRIES 256u
#define BATCH   32u
/* ring-peer.elf's pool rule: about 16 MiB of blocks, 16..256 of them. */
#define POOL_BYTES (16u << 20)
#define MAX_POOL 256u
#define MIN_POOL 16u

static uint8_t *region;
static uint64_t region_size, size, messages;
static struct shm_ring *ring;
static uint64_t pool[MAX_POOL];
static uint64_t pool_size;
static uint64_t errors;
static double first_s, last_s;  /* the consumer's first message seen, last one released */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static uint8_t *pattern(void)
{
    uint8_t *p = aligned_alloc(64, (size + 63) / 64 * 64);
    if (!p)
        exit(1);
    for (uint64_t i = 0; i < size; i++)
        p[i] = ring_pattern(i);
    return p;
}

static void *producer(void *arg)
{
    (void)arg;
    uint8_t *source = pattern();
    struct ring_tx tx;
    ring_tx_init(&tx, ring, ENTRIES);
    uint64_t sent = 0;
    while (sent < messages || ring_tx_in_flight(&tx)) {
        int64_t space = ring_tx_free(&tx);
        if (space < 0)
            abort();
        uint64_t k = messages - sent;
        if (k > (uint64_t)space)
            k = (uint64_t)space;
        if (k > pool_size - ring_tx_in_flight(&tx))
            k = pool_size - ring_tx_in_flight(&tx);
        if (k > BATCH)
            k = BATCH;
        for (uint64_t i = 0; i < k; i++) {
            uint64_t off = pool[tx.head % pool_size];
            memcpy(region + off, source, size);
            memcpy(region + off, &sent, 8);
            ring_tx_put(&tx, off, (uint32_t)size);
            sent++;
        }
        if (k)
            ring_tx_publish(&tx); /* nobody sleeps here; the fence is still paid, as in the guests */
        else
            __builtin_ia32_pause();
    }
    free(source);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    uint8_t *source = pattern();
    struct ring_rx rx;
    ring_rx_init(&rx, ring, ENTRIES, region_size);
    uint64_t received = 0;
    while (received < messages) {
        int64_t ready = ring_rx_ready(&rx);
        if (ready < 0)
            abort();
        uint64_t k = (uint64_t)ready < BATCH ? (uint64_t)ready : BATCH;
        if (k && received == 0)
            first_s = now_s();
        for (uint64_t i = 0; i < k; i++) {
            uint64_t off, seq;
            uint32_t len;
            if (ring_rx_peek(&rx, i, &off, &len) != 0)
                abort();
            memcpy(&seq, region + off, 8);
            if (len != size || seq != received || memcmp(region + off + 8, source + 8, size - 8) != 0)
                errors++;
            received++;
        }
        if (k) {
            ring_rx_release(&rx, k);
            last_s = now_s();
        } else
            __builtin_ia32_pause();
    }
    free(source);
    return NULL;
}

int main(int argc, char **argv)
{
    size = argc > 1 ? strtoull(argv[1], NULL, 0) : 64;
    messages = argc > 2 ? strtoull(argv[2], NULL, 0) : 1000000;
    if (size < 8 || size > (1u << 30) || messages == 0) {
        fprintf(stderr, "usage: ring-bench SIZE(>= 8) MESSAGES\n");
        return 2;
    }
    uint64_t block = (size + 63) / 64 * 64;
    pool_size = POOL_BYTES / size;
    pool_size = pool_size < MIN_POOL ? MIN_POOL : pool_size > MAX_POOL ? MAX_POOL : pool_size;
    region_size = shm_ring_bytes(ENTRIES) + pool_size * block;
    region = aligned_alloc(4096, (region_size + 4095) / 4096 * 4096);
    if (!region)
        return 1;
    memset(region, 0, region_size);
    ring = (struct shm_ring *)region;
    for (uint64_t i = 0; i < pool_size; i++)
        pool[i] = shm_ring_bytes(ENTRIES) + i * block;

    pthread_t p, c;
    pthread_create(&c, NULL, consumer, NULL);
    pthread_create(&p, NULL, producer, NULL);
    pthread_join(p, NULL);
    pthread_join(c, NULL);
    double s = last_s - first_s;
    if (errors) {
        fprintf(stderr, "ring-bench: %llu messages failed the check\n", (unsigned long long)errors);
        return 1;
    }
    printf("host-%llu %.1f %.0f\n", (unsigned long long)size, messages * (double)size / (1024.0 * 1024.0) / s,
           messages / s);
    free(region);
    return 0;
}
