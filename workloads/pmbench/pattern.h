/*
 * Access-pattern generators. Each worker owns one generator driven by a 64-bit LCG seeded
 * from its thread number, so runs are repeatable. A draw yields the page index, whether the
 * access is a read, and the 32-bit word index inside the page.
 */
#ifndef PMBENCH_PATTERN_H
#define PMBENCH_PATTERN_H

#include <stdint.h>

#include "params.h"

struct gen {
    uint64_t lcg;
    enum pattern pattern;
    uint64_t pages;
    uint32_t ratio;          /* percent reads */
    int32_t offset;          /* fixed word, or -1 */
    uint64_t stride, last;   /* linear */
    double sigma, spare;     /* normal: std-dev in pages; cached second Box-Muller value */
    int have_spare;
    double neg_inv_alpha, h_pow_neg_alpha; /* pareto */
};

struct draw {
    uint64_t page;
    uint32_t word;
    int is_read;
};

void gen_init(struct gen *g, const struct params *p, uint64_t pages, unsigned thread_no);
void gen_next(struct gen *g, struct draw *d);

/* Pages touched by the warm-up pass: 4n uniform, n linear/normal, 8n pareto. */
uint64_t gen_warmup_count(enum pattern pat, uint64_t pages);

static inline uint64_t lcg_step(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s;
}

#endif
