/* timing.h -- what the small timing programs share (fluidlab-floor; bench/fault-latency's
 * fault-bench and bare-scale): the monotonic clock in ns, a uint64_t comparator for qsort,
 * and a fresh private anonymous mapping without transparent huge pages (its first touches
 * are the faults they time). Includers define _GNU_SOURCE (program_invocation_short_name). */
#ifndef FLUIDLAB_TIMING_H
#define FLUIDLAB_TIMING_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

static inline uint64_t timing_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* qsort comparator: ascending uint64_t */
static inline int timing_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* pages 4 KiB pages of private anonymous memory, never touched, THP off; exits on failure */
static inline void *timing_fresh_pages(size_t pages)
{
	void *p = mmap(NULL, pages * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		fprintf(stderr, "%s: mmap of %zu pages: %s\n", program_invocation_short_name, pages, strerror(errno));
		exit(1);
	}
	madvise(p, pages * 4096, MADV_NOHUGEPAGE);
	return p;
}

#endif
