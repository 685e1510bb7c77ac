/*
 * Page-choice patterns (see pattern.h):
 *   uniform: high LCG bits mod pages;
 *   linear:  previous page + stride (shape, at least 1), wrapping;
 *   normal:  Box-Muller around the middle page, std-dev = shape pages, wrapped into range;
 *   pareto:  bounded Pareto on [1, pages] with alpha = shape, by inverting its CDF.
 * Read/write and the word index come from further LCG steps.
 */
#include <math.h>

#include "pattern.h"

static double unit(uint64_t *s) /* [0, 1) */
{
    return (double)(lcg_step(s) >> 11) * 0x1.0p-53;
}

void gen_init(struct gen *g, const struct params *p, uint64_t pages, unsigned thread_no)
{
    *g = (struct gen){0};
    g->lcg = 0x9E3779B97F4A7C15ULL * (thread_no + 1) ^ 0xD1B54A32D192ED03ULL;
    for (int i = 0; i < 4; i++)
        lcg_step(&g->lcg);
    g->pattern = p->pattern;
    g->pages = pages ? pages : 1;
    g->ratio = (uint32_t)p->ratio;
    g->offset = (int32_t)p->offset;
    g->stride = p->shape < 1 ? 1 : (uint64_t)p->shape;
    g->last = g->pages - 1; /* first linear draw is page 0 */
    g->sigma = p->shape;
    g->neg_inv_alpha = -1.0 / p->shape;
    g->h_pow_neg_alpha = pow((double)g->pages, -p->shape);
}

static uint64_t wrap(double x, uint64_t pages)
{
    double m = fmod(floor(x), (double)pages);
    if (m < 0)
        m += (double)pages;
    return (uint64_t)m;
}

static double gaussian(struct gen *g)
{
    if (g->have_spare) {
        g->have_spare = 0;
        return g->spare;
    }
    double u1, u2 = unit(&g->lcg);
    do
        u1 = unit(&g->lcg);
    while (u1 <= 0);
    double r = sqrt(-2.0 * log(u1)), th = 2.0 * M_PI * u2;
    g->spare = r * sin(th);
    g->have_spare = 1;
    return r * cos(th);
}

void gen_next(struct gen *g, struct draw *d)
{
    switch (g->pattern) {
    case PAT_UNIFORM:
        d->page = (lcg_step(&g->lcg) >> 16) % g->pages;
        break;
    case PAT_LINEAR:
        g->last = (g->last + g->stride) % g->pages;
        d->page = g->last;
        break;
    case PAT_NORMAL:
        d->page = wrap((double)(g->pages / 2) + gaussian(g) * g->sigma + 0.5, g->pages);
        break;
    case PAT_PARETO: {
        double u = unit(&g->lcg);
        double x = pow(1.0 - u * (1.0 - g->h_pow_neg_alpha), g->neg_inv_alpha); /* [1, pages] */
        uint64_t page = (uint64_t)x - 1;
        d->page = page < g->pages ? page : g->pages - 1;
        break;
    }
    }
    uint64_t r = lcg_step(&g->lcg);
    d->is_read = (uint32_t)((r >> 33) % 100) < g->ratio;
    d->word = g->offset >= 0 ? (uint32_t)g->offset : (uint32_t)((r >> 23) & 1023);
}

uint64_t gen_warmup_count(enum pattern pat, uint64_t pages)
{
    switch (pat) {
    case PAT_UNIFORM: return 4 * pages;
    case PAT_PARETO: return 8 * pages;
    default: return pages;
    }
}
