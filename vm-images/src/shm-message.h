/*
 * shm-message.h - the message format producer.elf writes and consumer.elf
 * verifies (both include this file, so they cannot disagree).
 *
 * A message is one block of the shared region, sent with length 16 + len:
 *
 *   offset 0   u32 magic     0x3147534d ("MSG1")
 *   offset 4   u32 seq       0, 1, 2, ... per producer
 *   offset 8   u32 len       payload bytes, 1..max
 *   offset 12  u32 checksum  msg_checksum() of the payload
 *   offset 16  payload
 *
 * Payload: the little-endian bytes of the 64-bit words msg_word(key, 0),
 * msg_word(key, 1), ... cut off after len bytes, where key =
 * msg_key(seed, seq, producer's VM index). Each word is a pure function of its
 * position (splitmix64 of a counter), so generating and checking have no
 * serial dependency between words.
 *
 * Checksum: h = 0xcbf29ce484222325; for each payload word w (the last one
 * zero-padded): h = (rotl64(h, 23) ^ w) * 0x100000001b3; then the u32
 * (h ^ (h >> 32)) ^ len. One multiply per 8 bytes: far cheaper than a byte-wise
 * FNV or CRC in plain C, and the rotation lets every bit reach every other.
 *
 * Payload sizes: msg_payload_size(seed, seq, max) is log-uniform over
 * [1, max]: a uniformly chosen power-of-two bucket [2^e, 2^(e+1)), then a
 * uniform size inside it, so 1-byte and 256 KiB messages are both common.
 */
#ifndef SHM_MESSAGE_H
#define SHM_MESSAGE_H

#include <stdint.h>

#define MSG_MAGIC           0x3147534du     /* "MSG1" */
#define MSG_HEADER_SIZE     16u

struct msg_header {
    uint32_t magic;
    uint32_t seq;
    uint32_t len;
    uint32_t checksum;
};

_Static_assert(sizeof(struct msg_header) == MSG_HEADER_SIZE, "message header layout");

/* Blocks are 64-byte aligned, but nothing stops a host from handing out less:
 * words are accessed through this type so that any address is fine. */
typedef uint64_t msg_u64 __attribute__((aligned(1), may_alias));

#define MSG_FNV_BASIS       0xcbf29ce484222325ull
#define MSG_FNV_PRIME       0x100000001b3ull
#define MSG_GOLDEN          0x9e3779b97f4a7c15ull

static inline uint64_t msg_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t msg_key(uint64_t seed, uint32_t seq, uint32_t producer)
{
    return msg_mix(msg_mix(seed) ^ ((uint64_t)producer << 32 | seq));
}

static inline uint64_t msg_word(uint64_t key, uint64_t i)
{
    return msg_mix(key + (i + 1) * MSG_GOLDEN);
}

static inline uint64_t msg_hash_step(uint64_t h, uint64_t w)
{
    return (((h << 23) | (h >> 41)) ^ w) * MSG_FNV_PRIME;
}

static inline uint32_t msg_hash_final(uint64_t h, uint32_t len)
{
    return (uint32_t)(h ^ (h >> 32)) ^ len;
}

/* The low `n` bytes (1..7) of a word, the rest zero. */
static inline uint64_t msg_low_bytes(uint64_t w, uint32_t n)
{
    return w & ((1ull << (8 * n)) - 1);
}

/* Payload bytes of message `seq`, in [1, max] (max >= 1). */
static inline uint32_t msg_payload_size(uint64_t seed, uint32_t seq, uint32_t max)
{
    uint64_t r = msg_mix(msg_mix(seed ^ 0x5a5a5a5a5a5a5a5aull) + seq);
    uint32_t buckets = 32 - (uint32_t)__builtin_clz(max);     /* max < 2^buckets */
    uint32_t e = (uint32_t)(r % buckets);
    uint64_t lo = 1ull << e;
    uint64_t hi = 2 * lo - 1 < max ? 2 * lo - 1 : max;        /* lo <= max always */
    return (uint32_t)(lo + (r >> 32) % (hi - lo + 1));
}

#endif /* SHM_MESSAGE_H */
