/* Histogram helpers: merging per-thread histograms and summing a band's sub-buckets. */
#include "histo.h"

void histo_merge(struct histo *dst, const struct histo *src)
{
    dst->below += src->below;
    for (unsigned b = 0; b < HISTO_SUB_BANDS; b++)
        for (unsigned s = 0; s < 16; s++)
            dst->sub[b][s] += src->sub[b][s];
    for (unsigned b = 0; b < HISTO_WIDE_BANDS; b++)
        dst->wide[b] += src->wide[b];
    dst->top += src->top;
    dst->total += src->total;
}

uint64_t histo_band_sum(const struct histo *h, unsigned band)
{
    uint64_t sum = 0;
    for (unsigned s = 0; s < 16; s++)
        sum += h->sub[band][s];
    return sum;
}
