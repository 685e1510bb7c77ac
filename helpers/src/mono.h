/* mono.h -- the monotonic clock in ns and a uint64_t comparator for qsort, for the small
 * timing programs (fluidlab-floor; bench/fault-latency's fault-bench and bare-scale). */
#ifndef FLUIDLAB_MONO_H
#define FLUIDLAB_MONO_H

#include <stdint.h>
#include <time.h>

static inline uint64_t mono_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* qsort comparator: ascending uint64_t */
static inline int mono_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

#endif
