/*
 * fuzz-target.elf - the parser the snapshot fuzzer example (examples/fuzz) runs again and again.
 *
 * It parses one input buffer and exits; it has a bug planted on purpose. Boot args:
 *   arg0 = guest address of the input: a u32 length, then that many bytes (at most 4096)
 *   arg1 = guest address of the feedback area (struct feedback below), zero at the start
 * Without arg0 it parses an empty input (so `kvmctl launch --image fuzz-target.elf` just exits 1).
 *
 * Protocol: after setting up, it writes 0 to port 0xf5 ("the parser starts here": the host marks
 * its checkpoint at that exit), parses, and exits through port 0xf4 with the parser's verdict
 * (0 accepted, 1..4 rejected at some check). A fuzzer then writes the next input and resets the
 * guest to the checkpoint, so the set-up runs once and every execution is just the parse.
 *
 * Feedback for a guided search, as AFL's edge map and CmpLog give it: each check the input passes
 * sets its byte in cov[]; each 32-bit comparison against a constant records the input's value
 * and the constant in cmp[] (the host copies the constant into the input where the value was).
 *
 * The planted bug: an input that starts with "KVM", any byte, then the 32-bit little-endian magic
 * 0xF00DFACE (bytes ce fa 0d f0) makes the parser follow a wild pointer: a write to an unmapped
 * address, a page fault that with no IDT ends in a triple fault (KVM_EXIT_SHUTDOWN).
 *
 * General registers only: nothing but integer state changes, so a checkpoint that restores the
 * registers, special registers and events resets it completely.
 */
#include "kvmctl_guest.h"

#define PORT_CHECKPOINT 0xf5
#define MAX_INPUT 4096u
#define MAGIC 0xf00dfaceu
#define WILD_POINTER 0x100000000000ull /* canonical, far above any mapping (see fault.c) */

struct input {
    uint32_t length;
    uint8_t bytes[MAX_INPUT];
};

struct feedback {
    uint8_t cov[64];        /*  0: 1 for each check passed */
    uint32_t cmp_count;     /* 64: comparisons recorded (at most 32) */
    uint32_t reserved;
    struct { uint32_t have, want; } cmp[32]; /* 72: the input's value, the constant */
};

_Static_assert(sizeof(struct feedback) == 72 + 32 * 8, "feedback layout (examples/fuzz reads it)");

static struct feedback scratch; /* where feedback goes when the host gives no area */
static struct feedback *fb = &scratch;

#define EDGE(i) (fb->cov[(i)] = 1)

static int equal32(uint32_t have, uint32_t want)
{
    if (fb->cmp_count < 32) {
        fb->cmp[fb->cmp_count].have = have;
        fb->cmp[fb->cmp_count].want = want;
        fb->cmp_count++;
    }
    return have == want;
}

static uint32_t load32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A header check as many file parsers have: a 3-byte tag, a version byte, a 32-bit magic. */
static int parse(const uint8_t *in, uint32_t length)
{
    EDGE(0);
    if (length < 8)
        return 1;
    EDGE(1);
    if (in[0] != 'K')
        return 2;
    EDGE(2);
    if (in[1] != 'V')
        return 2;
    EDGE(3);
    if (in[2] != 'M')
        return 2;
    EDGE(4);
    if (!equal32(load32(in + 4), MAGIC))
        return 3;
    EDGE(5);
    /* The planted bug: this path "trusts a record pointer" that is never valid. */
    *(volatile uint64_t *)WILD_POINTER = in[3];
    return 4;
}

int main(const struct kvmctl_boot_info *info)
{
    static struct input empty;
    const struct input *input = &empty;

    if (kvmctl_boot_info_valid(info) && info->arg[0] != 0) {
        input = (const struct input *)(uintptr_t)info->arg[0];
        if (info->arg[1] != 0)
            fb = (struct feedback *)(uintptr_t)info->arg[1];
    }
    outb(PORT_CHECKPOINT, 0);
    uint32_t length = input->length < MAX_INPUT ? input->length : MAX_INPUT;
    return parse(input->bytes, length);
}
