/*
 * state-keeper.elf -- holds its whole computation in CPU state, for context-switch tests.
 *
 *   kvmctl launch --image state-keeper [--arg ROUNDS [--arg STOP_WORD]] [--one-thread --switch cold ...]
 *
 * Ring 3 only. A loop of ROUNDS iterations (arg0, default 2,000,000: about a third of a second)
 * keeps every piece of its state in registers (only its loop counters and the stop word's address
 * are on the stack): the 15 general
 * registers it may use, the carry flag (an adc chain whose carry crosses iterations: the loop's
 * `dec`/`jnz` leave CF alone), all 16 XMM registers, the upper halves of the YMM registers when
 * AVX is there, and the FS base (an MSR, IA32_FS_BASE) through wrfsbase/rdfsbase when FSGSBASE is
 * there. A preemption that loses or corrupts any bit of any of them changes the printed result,
 * which is identical on every run of the same ROUNDS and features. Prints:
 *
 *   state-keeper: rounds=<n> avx=<0|1> fsgsbase=<0|1>
 *   state-keeper: gprs=<hex> flags=<hex> xmm=<hex> ymm=<hex> fsbase=<hex>
 *   state-keeper: checksum=<hex>
 *
 * and exits 0.
 *
 * Run until stopped (arg1 = STOP_WORD, a guest-physical address, 8-byte aligned, inside RAM and
 * below the image, e.g. 0xff000): the loop also ends when the host writes a non-zero value to the
 * u64 there, which it reads every 4096 rounds (ROUNDS 0 then means no other limit). A test that
 * needs N preemptions lets the guest run until it has switched it N times, whatever the speed of
 * the CPU. The guest prints
 *
 *   state-keeper: rounds=until stopped avx=<0|1> fsgsbase=<0|1>
 *   state-keeper: ran=<r>
 *
 * and then the same two lines a run with ROUNDS = r prints: the result of r rounds does not
 * depend on how the loop was ended, so a plain run with --arg r checks it. A bad STOP_WORD ends
 * the run with status 2 before the loop.
 */
#include "kvmctl_guest.h"

#define STR_(x) #x
#define STR(x) STR_(x)

#define MODE_AVX 1
#define MODE_FSGSBASE 2

/* out[0..15]: rax rbx rcx(0) rdx rsi rdi rbp r8..r15; out[16]: flags (CF PF AF ZF SF OF);
 * out[17..48]: xmm0..15, two words each; out[49..80]: upper halves of ymm0..15 (0 without AVX);
 * out[81]: FS base (0 without FSGSBASE). The result is out[0..81]; out[82] is the rounds left. */
#define OUT_WORDS 82
/* Rounds between two reads of the stop word: a few tens of microseconds. */
#define STOP_POLL_ROUNDS 4096
void keeper_loop(uint64_t rounds, uint64_t mode, uint64_t *out, const volatile uint64_t *stop);

/*
 * One loop per feature set, so that no test inside a loop disturbs the carry chain. The loop
 * counters and the stop word's address are the only things kept in memory (on the stack): every
 * register holds state. rorx, mulx and lea leave the flags alone; the FS-base update, whose
 * arithmetic does not, saves CF in %bpl first and puts it back with bt. The counters count down
 * with dec, which leaves CF alone; every STOP_POLL_ROUNDS rounds the loop reads the stop word
 * into %rcx (which otherwise only feeds the FS-base update, recomputed each round) and tests it
 * with jrcxz, which reads no flags and writes none. Whichever way the loop ends, the last flag
 * writer is a dec from 1 to 0, so a stopped run of r rounds and a run of ROUNDS = r leave the
 * same flags.
 */
__asm__(
    ".macro KEEPER_INIT\n"
    "    movabs $0x9e3779b97f4a7c15, %rax\n"
    "    movabs $0xbf58476d1ce4e5b9, %rbx\n"
    "    movabs $0x94d049bb133111eb, %rdx\n"
    "    movabs $0x2545f4914f6cdd1d, %rsi\n"
    "    movabs $0x5851f42d4c957f2d, %rdi\n"
    "    movabs $0x14057b7ef767814f, %r8\n"
    "    movabs $0xd6e8feb86659fd93, %r9\n"
    "    movabs $0xa0761d6478bd642f, %r10\n"
    "    movabs $0xe7037ed1a0b428db, %r11\n"
    "    movabs $0x8ebc6af09c88c6e3, %r12\n"
    "    movabs $0x589965cc75374cc3, %r13\n"
    "    movabs $0x1d8e4e27c47d124f, %r14\n"
    "    movabs $0xc2b2ae3d27d4eb4f, %r15\n"
    "    xor %ebp, %ebp\n"
    "    movq %rax, %xmm0\n  movq %rbx, %xmm1\n  movq %rdx, %xmm2\n  movq %rsi, %xmm3\n"
    "    movq %rdi, %xmm4\n  movq %r8, %xmm5\n   movq %r9, %xmm6\n   movq %r10, %xmm7\n"
    "    movq %r11, %xmm8\n  movq %r12, %xmm9\n  movq %r13, %xmm10\n movq %r14, %xmm11\n"
    "    movq %r15, %xmm12\n movq %rax, %xmm13\n movq %rbx, %xmm14\n movq %rdx, %xmm15\n"
    "    punpcklqdq %xmm1, %xmm0\n punpcklqdq %xmm3, %xmm2\n punpcklqdq %xmm5, %xmm4\n"
    "    punpcklqdq %xmm7, %xmm6\n punpcklqdq %xmm9, %xmm8\n punpcklqdq %xmm11, %xmm10\n"
    "    punpcklqdq %xmm13, %xmm12\n punpcklqdq %xmm15, %xmm14\n"
    ".endm\n"
    ".macro KEEPER_LOOP avx fs\n"
    "1:\n"
    "    adc %rbx, %rax\n"
    "    adc %rdx, %rsi\n"
    "    rorx $17, %rdi, %rdi\n"
    "    adc %rax, %rdi\n"
    "    adc %rsi, %r8\n"
    "    mulx %r8, %r9, %r10\n"
    "    adc %r9, %r11\n"
    "    adc %r10, %r12\n"
    "    rorx $29, %r12, %r13\n"
    "    adc %r13, %r14\n"
    "    adc %r11, %r15\n"
    "    adc %r15, %rbx\n"
    "    adc %r14, %rdx\n"
    "    lea 1(%rdx,%rax,2), %rdx\n"
    "    movq %rax, %xmm1\n"
    "    paddq %xmm1, %xmm0\n   pxor %xmm0, %xmm2\n   pshufd $0x4e, %xmm2, %xmm3\n"
    "    paddq %xmm3, %xmm4\n   pxor %xmm4, %xmm5\n   pshufd $0x1b, %xmm5, %xmm6\n"
    "    paddq %xmm6, %xmm7\n   pxor %xmm7, %xmm8\n   pshufd $0x93, %xmm8, %xmm9\n"
    "    paddq %xmm9, %xmm10\n  pxor %xmm10, %xmm11\n pshufd $0x39, %xmm11, %xmm12\n"
    "    paddq %xmm12, %xmm13\n pxor %xmm13, %xmm14\n paddq %xmm14, %xmm15\n"
    "    .if \\avx\n"
    "    vinsertf128 $1, %xmm15, %ymm0, %ymm0\n"
    "    vxorps %ymm0, %ymm2, %ymm2\n  vshufps $0xb1, %ymm2, %ymm2, %ymm3\n"
    "    vxorps %ymm3, %ymm5, %ymm5\n  vperm2f128 $0x01, %ymm5, %ymm5, %ymm6\n"
    "    vxorps %ymm6, %ymm8, %ymm8\n  vshufps $0x4e, %ymm8, %ymm8, %ymm9\n"
    "    vxorps %ymm9, %ymm11, %ymm11\n vperm2f128 $0x01, %ymm11, %ymm11, %ymm12\n"
    "    vxorps %ymm12, %ymm14, %ymm14\n"
    "    .endif\n"
    "    .if \\fs\n"
    "    setc %bpl\n"
    "    rdfsbase %rcx\n"
    "    add %rax, %rcx\n"
    "    shl $17, %rcx\n"              /* keep it canonical: wrfsbase faults otherwise */
    "    shr $17, %rcx\n"
    "    wrfsbase %rcx\n"
    "    bt $0, %rbp\n"
    "    .endif\n"
    "    decq (%rsp)\n"              /* rounds left */
    "    jz 2f\n"
    "    decq 8(%rsp)\n"             /* rounds until the next read of the stop word */
    "    jnz 1b\n"
    "    movq $" STR(STOP_POLL_ROUNDS) ", 8(%rsp)\n"
    "    mov 32(%rsp), %rcx\n"
    "    mov (%rcx), %rcx\n"
    "    jrcxz 3f\n"                 /* (jrcxz reaches only 127 bytes) */
    "    jmp 2f\n"
    "3:  jmp 1b\n"
    "2:\n"
    ".endm\n"
    ".text\n"
    ".globl keeper_loop\n"
    "keeper_loop:\n"
    "    push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
    "    push %rcx\n"                /* 32(%rsp): the stop word's address */
    "    push %rsi\n"                /* 24(%rsp): mode */
    "    push %rdx\n"                /* 16(%rsp): out */
    "    pushq $" STR(STOP_POLL_ROUNDS) "\n" /* 8(%rsp): rounds until the stop word is read */
    "    push %rdi\n"                /*  0(%rsp): rounds left */
    "    test $1, %rsi\n"
    "    jnz 20f\n"
    "    test $2, %rsi\n"
    "    jnz 12f\n"
    "    KEEPER_INIT\n  xor %ecx, %ecx\n  clc\n  KEEPER_LOOP 0 0\n  jmp 90f\n"
    "12: KEEPER_INIT\n  xor %ecx, %ecx\n  wrfsbase %rcx\n  clc\n  KEEPER_LOOP 0 1\n  jmp 90f\n"
    "20: test $2, %rsi\n"
    "    jnz 22f\n"
    "    KEEPER_INIT\n  vzeroupper\n  xor %ecx, %ecx\n  clc\n  KEEPER_LOOP 1 0\n  jmp 90f\n"
    "22: KEEPER_INIT\n  vzeroupper\n  xor %ecx, %ecx\n  wrfsbase %rcx\n  clc\n  KEEPER_LOOP 1 1\n"
    "90:\n"
    "    pushfq\n"                   /* the flags, before any instruction below changes them */
    "    add $8, %rsp\n"             /* ... left at -8(%rsp) */
    "    mov 16(%rsp), %rcx\n"       /* rcx only fed the FS-base update and the stop test: free now */
    "    mov %rax, 0(%rcx)\n  mov %rbx, 8(%rcx)\n  movq $0, 16(%rcx)\n  mov %rdx, 24(%rcx)\n"
    "    mov %rsi, 32(%rcx)\n mov %rdi, 40(%rcx)\n mov %rbp, 48(%rcx)\n  mov %r8, 56(%rcx)\n"
    "    mov %r9, 64(%rcx)\n  mov %r10, 72(%rcx)\n mov %r11, 80(%rcx)\n mov %r12, 88(%rcx)\n"
    "    mov %r13, 96(%rcx)\n mov %r14, 104(%rcx)\n mov %r15, 112(%rcx)\n movq $0, 120(%rcx)\n"
    "    mov -8(%rsp), %rax\n"
    "    and $0x8d5, %rax\n"         /* not IF, which depends on the hypervisor */
    "    mov %rax, 128(%rcx)\n"
    "    movdqu %xmm0, 136(%rcx)\n  movdqu %xmm1, 152(%rcx)\n  movdqu %xmm2, 168(%rcx)\n"
    "    movdqu %xmm3, 184(%rcx)\n  movdqu %xmm4, 200(%rcx)\n  movdqu %xmm5, 216(%rcx)\n"
    "    movdqu %xmm6, 232(%rcx)\n  movdqu %xmm7, 248(%rcx)\n  movdqu %xmm8, 264(%rcx)\n"
    "    movdqu %xmm9, 280(%rcx)\n  movdqu %xmm10, 296(%rcx)\n movdqu %xmm11, 312(%rcx)\n"
    "    movdqu %xmm12, 328(%rcx)\n movdqu %xmm13, 344(%rcx)\n movdqu %xmm14, 360(%rcx)\n"
    "    movdqu %xmm15, 376(%rcx)\n"
    "    mov 0(%rsp), %rax\n"
    "    mov %rax, 656(%rcx)\n"      /* out[82]: rounds left */
    "    testq $1, 24(%rsp)\n"
    "    jz 91f\n"
    "    vextractf128 $1, %ymm0, 392(%rcx)\n  vextractf128 $1, %ymm1, 408(%rcx)\n"
    "    vextractf128 $1, %ymm2, 424(%rcx)\n  vextractf128 $1, %ymm3, 440(%rcx)\n"
    "    vextractf128 $1, %ymm4, 456(%rcx)\n  vextractf128 $1, %ymm5, 472(%rcx)\n"
    "    vextractf128 $1, %ymm6, 488(%rcx)\n  vextractf128 $1, %ymm7, 504(%rcx)\n"
    "    vextractf128 $1, %ymm8, 520(%rcx)\n  vextractf128 $1, %ymm9, 536(%rcx)\n"
    "    vextractf128 $1, %ymm10, 552(%rcx)\n vextractf128 $1, %ymm11, 568(%rcx)\n"
    "    vextractf128 $1, %ymm12, 584(%rcx)\n vextractf128 $1, %ymm13, 600(%rcx)\n"
    "    vextractf128 $1, %ymm14, 616(%rcx)\n vextractf128 $1, %ymm15, 632(%rcx)\n"
    "    vzeroupper\n"
    "91: testq $2, 24(%rsp)\n"
    "    jz 92f\n"
    "    rdfsbase %rax\n"
    "    mov %rax, 648(%rcx)\n"
    "92: add $40, %rsp\n"
    "    pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
    "    ret\n");

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static int has_avx(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & (1u << 28)) || !(r[2] & (1u << 27)))
        return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;
}

static int has_fsgsbase(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 7)
        return 0;
    cpuid(7, 0, r);
    return r[1] & 1;
}

static int has_bmi2(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 7)
        return 0;
    cpuid(7, 0, r);
    return (r[1] >> 8) & 1;
}

static uint64_t fold(const uint64_t *w, int n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (int i = 0; i < n; i++) {
        h ^= w[i];
        h *= 0x100000001b3ULL;
        h ^= h >> 29;
    }
    return h;
}

static uint64_t out[OUT_WORDS + 1];
/* What the loop polls when no stop word is given: never set. */
static const volatile uint64_t never;

int main(const struct kvmctl_boot_info *info)
{
    if (!kvmctl_boot_info_valid(info) || kvmctl_cpl() != 3) {
        kvmctl_puts("state-keeper: needs long mode at ring 3 (--ring 3)\n");
        return 3;
    }
    if (!has_bmi2()) {
        kvmctl_puts("state-keeper: needs a CPU with BMI2 (rorx, mulx)\n");
        return 4;
    }
    uint64_t stop_word = info->arg[1];
    uint64_t rounds = info->arg[0] ? info->arg[0] : stop_word ? UINT64_MAX : 2000000;
    if (stop_word && (stop_word % 8 || stop_word >= KVMCTL_IMAGE_BASE || stop_word > info->ram_size - 8)) {
        kvmctl_puts("state-keeper: the stop word (second --arg) must be 8-byte aligned, in RAM, below 0x100000\n");
        return 2;
    }
    const volatile uint64_t *stop = stop_word ? (const volatile uint64_t *)stop_word : &never;
    uint64_t mode = (has_avx() ? MODE_AVX : 0) | (has_fsgsbase() ? MODE_FSGSBASE : 0);
    kvmctl_puts("state-keeper: rounds=");
    if (stop_word)
        kvmctl_puts("until stopped");
    else
        kvmctl_put_dec(rounds);
    kvmctl_puts(mode & MODE_AVX ? " avx=1" : " avx=0");
    kvmctl_puts(mode & MODE_FSGSBASE ? " fsgsbase=1\n" : " fsgsbase=0\n");

    keeper_loop(rounds, mode, out, stop);

    if (stop_word) {
        kvmctl_puts("state-keeper: ran=");
        kvmctl_put_dec(rounds - out[OUT_WORDS]);
        kvmctl_putc('\n');
    }
    kvmctl_puts("state-keeper: gprs=");
    kvmctl_put_hex64(fold(&out[0], 16));
    kvmctl_puts(" flags=");
    kvmctl_put_hex64(out[16]);
    kvmctl_puts(" xmm=");
    kvmctl_put_hex64(fold(&out[17], 32));
    kvmctl_puts(" ymm=");
    kvmctl_put_hex64(fold(&out[49], 32));
    kvmctl_puts(" fsbase=");
    kvmctl_put_hex64(out[81]);
    kvmctl_puts("\nstate-keeper: checksum=");
    kvmctl_put_hex64(fold(out, OUT_WORDS));
    kvmctl_putc('\n');
    return 0;
}
