/*
 * What the parts of gradcore's C core share beyond the public API (kernels.h).
 */
#ifndef GRADCORE_INTERNAL_H
#define GRADCORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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

#endif
