/* hist.c -- log-linear histogram: bucket 0 holds [0, 2^HIST_MIN_SHIFT); above that each
 * power of two [2^k, 2^(k+1)) is split into HIST_SUB equal sub-buckets. */
#include <stdio.h>

#include "hist.h"

static size_t bucket_of(uint64_t ns)
{
	if (ns < (1ull << HIST_MIN_SHIFT))
		return 0;
	int k = 63 - __builtin_clzll(ns);
	uint64_t sub = (ns - (1ull << k)) >> (k - 2); /* HIST_SUB == 4 */
	size_t i = 1 + (size_t)(k - HIST_MIN_SHIFT) * HIST_SUB + (size_t)sub;
	return i < HIST_BUCKETS ? i : HIST_BUCKETS - 1;
}

uint64_t hist_upper(size_t i)
{
	if (i == 0)
		return 1ull << HIST_MIN_SHIFT;
	size_t k = (i - 1) / HIST_SUB + HIST_MIN_SHIFT, sub = (i - 1) % HIST_SUB;
	return (1ull << k) + ((sub + 1) << (k - 2));
}

void hist_add(struct hist *h, uint64_t ns)
{
	h->b[bucket_of(ns)]++;
	h->count++;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	if (!h->count)
		return 0;
	uint64_t rank = (uint64_t)(p * (double)h->count + 0.5);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= rank)
			return hist_upper(i);
	}
	return hist_upper(HIST_BUCKETS - 1);
}

int hist_json(const struct hist *h, char *out, size_t n)
{
	size_t o = 0;
	o += (size_t)snprintf(out + o, n - o, "{\"p50\":%llu,\"p99\":%llu,\"count\":%llu,\"histogram\":[",
			      (unsigned long long)hist_percentile(h, 0.50),
			      (unsigned long long)hist_percentile(h, 0.99), (unsigned long long)h->count);
	int first = 1;
	for (size_t i = 0; i < HIST_BUCKETS && o < n; i++) {
		if (!h->b[i])
			continue;
		o += (size_t)snprintf(out + o, n - o, "%s[%llu,%u]", first ? "" : ",",
				      (unsigned long long)hist_upper(i), h->b[i]);
		first = 0;
	}
	if (o < n)
		o += (size_t)snprintf(out + o, n - o, "]}");
	return (int)o;
}
