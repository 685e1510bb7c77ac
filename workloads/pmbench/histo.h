/*
 * Latency histogram in pmbench's layout: one bucket below 2^8 ns; the power-of-two bands
 * 2^8..2^23 ns each split into 16 equal sub-buckets; single buckets 2^23..2^30 ns; one
 * bucket at or above 2^30 ns.
 */
#ifndef PMBENCH_HISTO_H
#define PMBENCH_HISTO_H

#include <stdint.h>

#define HISTO_SUB_FIRST 8   /* first band with sub-buckets: 2^(08,09) */
#define HISTO_SUB_BANDS 15  /* 2^(08,09) .. 2^(22,23) */
#define HISTO_WIDE_FIRST 23 /* 2^(23,24) .. 2^(29,30) */
#define HISTO_WIDE_BANDS 7

struct histo {
    uint64_t below;                        /* 2^(00,08) */
    uint64_t sub[HISTO_SUB_BANDS][16];
    uint64_t wide[HISTO_WIDE_BANDS];
    uint64_t top;                          /* 2^(30,32) and beyond */
    uint64_t total;
};

static inline void histo_add(struct histo *h, uint64_t ns)
{
    h->total++;
    if (ns < 256) {
        h->below++;
        return;
    }
    unsigned k = 63u - (unsigned)__builtin_clzll(ns);
    if (k < HISTO_WIDE_FIRST)
        h->sub[k - HISTO_SUB_FIRST][(ns >> (k - 4)) & 15]++;
    else if (k < HISTO_WIDE_FIRST + HISTO_WIDE_BANDS)
        h->wide[k - HISTO_WIDE_FIRST]++;
    else
        h->top++;
}

void histo_merge(struct histo *dst, const struct histo *src);
uint64_t histo_band_sum(const struct histo *h, unsigned band);

#endif
