/*
 * string.c - memcpy, memmove, memset and memcmp for freestanding guests.
 *
 * gcc emits calls to these for struct copies and zeroing even when the source
 * never names them. They use `rep movsb`/`rep stosb` and plain byte loops: no
 * SSE, so they are safe at ring 0 under KVM's emulator (which handles string
 * instructions), and fast enough at ring 3 on CPUs with ERMS/FSRM. The copies
 * are inline assembly, and the Makefile builds this file with
 * -fno-tree-loop-distribute-patterns, so gcc cannot turn them back into calls
 * to themselves.
 */
#include "kvmctl_guest.h"

void *memcpy(void *dst, const void *src, size_t n)
{
    void *ret = dst;
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;

    if (d <= s || d >= s + n)
        return memcpy(dst, src, n);
    /* Overlapping with dst above src: copy backwards. */
    d += n - 1;
    s += n - 1;
    __asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

void *memset(void *dst, int c, size_t n)
{
    void *ret = dst;
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;

    for (; n; n--, p++, q++)
        if (*p != *q)
            return *p - *q;
    return 0;
}
