/*
 * The host baseline of scripts/bench-shm.sh: memcpy throughput for one message size, copying
 * messages round-robin through a region of the demo's size (so large sizes miss the cache as the
 * VMs do). Prints "memcpy-<size> <MiB/s> ...": the rate of each of 7 rounds after one warm-up
 * round, sorted (the script reports their median and min-max).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int compare(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    size_t size = argc > 1 ? strtoull(argv[1], NULL, 0) : 4096;
    size_t region = argc > 2 ? strtoull(argv[2], NULL, 0) : 8u << 20;
    uint8_t *src = malloc(region), *dst = malloc(region);
    if (!src || !dst || size == 0 || size > region)
        return 1;
    memset(src, 0x5a, region);
    memset(dst, 0, region);
    size_t slots = region / size;
    double total = 256.0 * 1024 * 1024; /* bytes per round */
    long copies = (long)(total / size);
    double rate[7];
    for (int r = -1; r < 7; r++) {
        double t0 = now_s();
        for (long i = 0; i < copies; i++) {
            size_t at = (size_t)(i % slots) * size;
            memcpy(dst + at, src + at, size);
            __asm__ volatile("" : : "r"(dst) : "memory");
        }
        double t1 = now_s();
        if (r >= 0)
            rate[r] = copies * (double)size / (1024.0 * 1024.0) / (t1 - t0);
    }
    qsort(rate, 7, sizeof rate[0], compare);
    printf("memcpy-%zu", size);
    for (int r = 0; r < 7; r++)
        printf(" %.1f", rate[r]);
    printf("\n");
    return 0;
}
