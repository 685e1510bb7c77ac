/* hist.h -- fixed-size log-linear latency histogram (4 sub-buckets per power of two,
 * 128 ns .. ~70 s). Recording is O(1); percentiles report the bucket's upper bound. */
#ifndef FLUIDMEM_HIST_H
#define FLUIDMEM_HIST_H

#include <stdint.h>
#include <stddef.h>

#define HIST_SUB 4
#define HIST_MIN_SHIFT 7
#define HIST_BUCKETS ((36 - HIST_MIN_SHIFT) * HIST_SUB + 1)

struct hist {
	uint64_t count;
	uint32_t b[HIST_BUCKETS];
};

void hist_add(struct hist *h, uint64_t ns);
void hist_merge(struct hist *dst, const struct hist *src);
uint64_t hist_upper(size_t bucket);
uint64_t hist_percentile(const struct hist *h, double p);
/* appends {"p50":..,"p99":..,"count":..,"histogram":[[upper,count],..]} to out */
int hist_json(const struct hist *h, char *out, size_t n);

#endif
