/*
 * What the parts of gradcore's C core share beyond the public API (kernels.h): memory and
 * the chunk size. Type-independent; see layers.h for the layer kernels, pool.h for threads.
 */
#ifndef GRADCORE_INTERNAL_H
#define GRADCORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "kernels.h"

/*
 * Every allocation of the kernels goes through gc_alloc and gc_free (kernels.c).
 * gc_alloc(count, size): count * size bytes, or NULL when there is not enough memory,
 * when count < 0, or when count * size does not fit in a size_t. gc_free(NULL) does nothing.
 */
void *gc_alloc(int64_t count, size_t size);
void gc_free(void *p);

/* For the tests only (gradcore._core exposes them privately): gc_alloc_fail_after(k) makes
 * the k-th gc_alloc from now fail (k >= 1; 0: none) and returns how many allocations the
 * previous setting still had to go (0 if it fired or none was set); gc_alloc_live() counts
 * the allocations not freed yet. */
int64_t gc_alloc_fail_after(int64_t k);
int64_t gc_alloc_live(void);

/* a * b + c for counts (each >= 0), or -1 when it does not fit in an int64 (or when a
 * count is already -1): sizes of hostile shapes never wrap around, and gc_alloc(-1, ...)
 * fails. */
static inline int64_t gc_count(int64_t a, int64_t b, int64_t c)
{
    if (a < 0 || b < 0 || c < 0 || (b > 0 && a > (INT64_MAX - c) / b)) return -1;
    return a * b + c;
}

/* Examples processed together through the layers: big enough to amortise the loops over
 * the weights, small enough that a chunk's activations stay in the L1/L2 cache. */
#define GC_CHUNK 64

/* Start of part q of n items split into `parts` parts as even as possible: parts differ by
 * at most one (10 into 2 parts: 5 + 5; 1,000 rows into 4 parts: 4 x 250). */
static inline int64_t gc_split(int64_t n, int64_t parts, int64_t q)
{
    return q * (n / parts) + q * (n % parts) / parts; /* n q / parts, without overflow */
}

#endif
