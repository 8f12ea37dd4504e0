/*
 * sse-compute.elf - a SIMD compute workload for ring 3.
 *
 * Generates 4 MiB of pseudo-random floats, then for each iteration: takes a
 * dot product of two 2 MiB float vectors while rotating them by a fixed angle,
 * and multiplies a 64x64 double matrix built from that data by a fixed one.
 * Every intermediate result is folded into a 64-bit checksum. Prints
 *
 *   sse-compute: iterations=<n> simd=<avx|sse2>
 *   sse-compute: dot=0x<16 hex> matmul=0x<16 hex>     (IEEE bits, last iteration)
 *   sse-compute: checksum=0x<16 hex>
 *
 * and exits with status 0. With the default 1000 iterations the output is
 *
 *   sse-compute: iterations=1000 simd=avx
 *   sse-compute: dot=0x00000000c1ed7cfc matmul=0x4040532ad76f268c
 *   sse-compute: checksum=0xbb5642981824dbe8
 *
 * The checksum depends only on the iteration count: the SSE2 and AVX code paths
 * compute every lane with the same IEEE operations in the same order (no FMA,
 * no reassociation, MXCSR set explicitly), so they agree bit for bit; only the
 * "simd=" word differs between hosts. A default run takes about 0.18 s with AVX
 * (0.35 s with SSE2) on the development host, which makes it a handy CPU-bound
 * workload for preemption and switching tests.
 *
 *   kvmctl launch --image sse-compute.elf --mode long --ring 3
 *   kvmctl launch --image sse-compute.elf --mode long --ring 3 --arg 5000
 *
 * Boot-info arguments: arg0 = iteration count (0: the default, 1000);
 * arg1 bit 0 = use the SSE2 path even when AVX is available; arg2 = a stop word.
 *
 * Run until stopped (arg2 = STOP_WORD, a guest-physical address, 8-byte aligned,
 * inside RAM and below the image, e.g. 0xff000): the guest reads the u64 there
 * after each iteration and ends the loop once the host has written a non-zero
 * value (arg0 0 then means no other limit), so a test can let it compute until
 * it has been preempted, switched or stopped as often as the test needs, on a
 * CPU of any speed. Once its data is generated it prints
 *
 *   sse-compute: computing until stopped, simd=<avx|sse2>
 *
 * and when stopped after n iterations (n >= 1: the iteration under way when the
 * word is set is finished) exactly the three lines a run with arg0 = n prints
 * (iterations=<n>, dot/matmul, checksum), so a plain run of n iterations checks
 * it. A bad STOP_WORD ends the run with status 2.
 *
 * RING 3 ONLY: KVM's PVM backend runs ring-0 code in its instruction emulator,
 * which rejects SSE/AVX. Started at ring 0 it prints
 * "sse-compute: needs --ring 3\n" and exits with status 3 before touching an
 * SSE register. Needs about 5 MiB of RAM above 1 MiB (use >= 8 MiB).
 */
#include <cpuid.h>

#include "kvmctl_guest.h"

#define DEFAULT_ITERATIONS 1000
#define NFLOATS (1u << 19)      /* per vector: 2 MiB */
#define M 64                    /* matrix order */

typedef float v8sf __attribute__((vector_size(32)));
typedef float v4sf __attribute__((vector_size(16)));
typedef double v4df __attribute__((vector_size(32)));

static float vec_a[NFLOATS] __attribute__((aligned(32)));
static float vec_b[NFLOATS] __attribute__((aligned(32)));
static double mat_a[M][M] __attribute__((aligned(32)));
static double mat_b[M][M] __attribute__((aligned(32)));

/* xorshift64*: a fixed seed gives the same data on every run. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [-1, 1), exactly representable: a 24-bit integer times 2^-23. */
static float rng_float(void)
{
    int32_t v = (int32_t)(rng_next() >> 40) - (1 << 23);
    return (float)v * (1.0f / (1 << 23));
}

static uint64_t hash_mix(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x100000001b3ull;
    return h ^ (h >> 29);
}

static uint64_t float_bits(float f)
{
    union { float f; uint32_t u; } c = { .f = f };
    return c.u;
}

static uint64_t double_bits(double d)
{
    union { double d; uint64_t u; } c = { .d = d };
    return c.u;
}

/*
 * The kernels are written with gcc's generic vectors and instantiated twice,
 * for SSE2 and for AVX, computing every lane with the same operations in the
 * same order, so both round identically. Where a 256-bit vector is used without
 * AVX, gcc splits each operation into two SSE ones on the same lanes. They take
 * and return no vectors (that would change the ABI between the two).
 */

/*
 * dot += a.b in 8 lane partial sums (lane l takes elements i with i % 8 == l),
 * then rotate each (a[i], b[i]) pair by a fixed angle. Two versions with the
 * same lanes: one 256-bit vector, or two 128-bit halves (written out, because
 * gcc's generic lowering of the 256-bit accumulator would keep it in memory).
 */
static inline __attribute__((always_inline)) void
rotate_dot_body8(float *restrict a, float *restrict b, float lanes[8])
{
    const v8sf c = { 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f, 0.6f };
    const v8sf s = { 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f, 0.8f };
    v8sf acc = { 0 };

    for (uint32_t i = 0; i < NFLOATS; i += 8) {
        v8sf x = *(const v8sf *)(a + i);
        v8sf y = *(const v8sf *)(b + i);
        acc += x * y;
        *(v8sf *)(a + i) = x * c - y * s;
        *(v8sf *)(b + i) = x * s + y * c;
    }
    for (int l = 0; l < 8; l++)
        lanes[l] = acc[l];
}

static inline __attribute__((always_inline)) void
rotate_dot_body4x2(float *restrict a, float *restrict b, float lanes[8])
{
    const v4sf c = { 0.6f, 0.6f, 0.6f, 0.6f };
    const v4sf s = { 0.8f, 0.8f, 0.8f, 0.8f };
    v4sf acc_lo = { 0 }, acc_hi = { 0 };

    for (uint32_t i = 0; i < NFLOATS; i += 8) {
        v4sf xl = *(const v4sf *)(a + i), xh = *(const v4sf *)(a + i + 4);
        v4sf yl = *(const v4sf *)(b + i), yh = *(const v4sf *)(b + i + 4);
        acc_lo += xl * yl;
        acc_hi += xh * yh;
        *(v4sf *)(a + i) = xl * c - yl * s;
        *(v4sf *)(a + i + 4) = xh * c - yh * s;
        *(v4sf *)(b + i) = xl * s + yl * c;
        *(v4sf *)(b + i + 4) = xh * s + yh * c;
    }
    for (int l = 0; l < 4; l++) {
        lanes[l] = acc_lo[l];
        lanes[l + 4] = acc_hi[l];
    }
}

/* Sum of all elements of mat_a * mat_b, accumulated column-lane-wise. */
static inline __attribute__((always_inline)) double matmul_sum_body(void)
{
    v4df colsum[M / 4] = { 0 };

    for (int i = 0; i < M; i++) {
        v4df row[M / 4] = { 0 };
        for (int k = 0; k < M; k++) {
            double aik = mat_a[i][k];
            v4df av = { aik, aik, aik, aik };
            const v4df *bk = (const v4df *)mat_b[k];
            for (int j = 0; j < M / 4; j++)
                row[j] += av * bk[j];
        }
        for (int j = 0; j < M / 4; j++)
            colsum[j] += row[j];
    }
    double sum = 0.0;
    for (int j = 0; j < M / 4; j++)
        for (int l = 0; l < 4; l++)
            sum += colsum[j][l];
    return sum;
}

static __attribute__((noinline)) void rotate_dot_sse2(float lanes[8])
{
    rotate_dot_body4x2(vec_a, vec_b, lanes);
}

static __attribute__((noinline)) double matmul_sum_sse2(void)
{
    return matmul_sum_body();
}

static __attribute__((noinline, target("avx"))) void rotate_dot_avx(float lanes[8])
{
    rotate_dot_body8(vec_a, vec_b, lanes);
}

static __attribute__((noinline, target("avx"))) double matmul_sum_avx(void)
{
    return matmul_sum_body();
}

/* AVX needs the CPU feature, the OS (kvmctl) having set CR4.OSXSAVE, and XCR0
 * enabling SSE and AVX state. */
static int have_avx(void)
{
    unsigned eax, ebx, ecx, edx;

    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    if (!(ecx & bit_OSXSAVE) || !(ecx & bit_AVX))
        return 0;
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;
}

static void print_header(uint64_t iterations, int avx)
{
    kvmctl_puts("sse-compute: iterations=");
    kvmctl_put_dec(iterations);
    kvmctl_puts(avx ? " simd=avx\n" : " simd=sse2\n");
}

/* Everything that touches SSE/AVX registers lives below main(), out of line. */
static __attribute__((noinline)) int compute(const struct kvmctl_boot_info *info)
{
    uint64_t iterations = DEFAULT_ITERATIONS;
    int force_sse2 = 0;
    uint64_t stop_word = 0;

    if (kvmctl_boot_info_valid(info)) {
        stop_word = info->arg[2];
        if (info->arg[0])
            iterations = info->arg[0];
        else if (stop_word)
            iterations = UINT64_MAX;
        force_sse2 = info->arg[1] & 1;
        if (stop_word && (stop_word % 8 || stop_word >= KVMCTL_IMAGE_BASE || stop_word > info->ram_size - 8)) {
            kvmctl_puts("sse-compute: the stop word (third --arg) must be 8-byte aligned, in RAM, below 0x100000\n");
            return 2;
        }
    }
    const volatile uint64_t *stop = (const volatile uint64_t *)stop_word;
    int avx = !force_sse2 && have_avx();

    /* Round to nearest, all exceptions masked, no FTZ/DAZ: whatever state the
     * vCPU started with, the arithmetic is the same. */
    uint32_t mxcsr = 0x1f80;
    __asm__ volatile("ldmxcsr %0" : : "m"(mxcsr));

    if (!stop)
        print_header(iterations, avx);

    for (uint32_t i = 0; i < NFLOATS; i++) {
        vec_a[i] = rng_float();
        vec_b[i] = rng_float();
    }
    for (int k = 0; k < M; k++)
        for (int j = 0; j < M; j++)
            mat_b[k][j] = rng_float();

    if (stop)
        kvmctl_puts(avx ? "sse-compute: computing until stopped, simd=avx\n"
                        : "sse-compute: computing until stopped, simd=sse2\n");

    uint64_t h = 0xcbf29ce484222325ull;
    float dot = 0.0f;
    double msum = 0.0;
    uint64_t it = 0;
    while (it < iterations) {
        float lanes[8];
        if (avx)
            rotate_dot_avx(lanes);
        else
            rotate_dot_sse2(lanes);
        dot = 0.0f;
        for (int l = 0; l < 8; l++)
            dot += lanes[l];

        /* The left matrix is a window onto the data, moving every iteration. */
        uint32_t base = (uint32_t)(it * 4099u) & (NFLOATS - 1);
        for (int i = 0; i < M; i++)
            for (int k = 0; k < M; k++)
                mat_a[i][k] = vec_a[(base + (uint32_t)(i * M + k)) & (NFLOATS - 1)];
        msum = avx ? matmul_sum_avx() : matmul_sum_sse2();

        h = hash_mix(h, float_bits(dot));
        h = hash_mix(h, double_bits(msum));
        it++;
        if (stop && *stop)
            break;
    }

    if (stop)
        print_header(it, avx);
    kvmctl_puts("sse-compute: dot=0x");
    kvmctl_put_hex64(float_bits(dot));
    kvmctl_puts(" matmul=0x");
    kvmctl_put_hex64(double_bits(msum));
    kvmctl_puts("\nsse-compute: checksum=0x");
    kvmctl_put_hex64(h);
    kvmctl_putc('\n');
    return 0;
}

int main(const struct kvmctl_boot_info *info)
{
    if (kvmctl_cpl() != 3) {
        kvmctl_puts("sse-compute: needs --ring 3\n");
        return 3;
    }
    return compute(info);
}
