/*
 * The value memverify stores in 64-bit word `word` of page `page` during a pass with seed
 * `seed`: a bijective 64-bit mix (splitmix64 finaliser) of the seed-scrambled word position,
 * so every word of every page differs, and every pass (new seed) rewrites every word.
 */
#ifndef MEMVERIFY_PATTERN_H
#define MEMVERIFY_PATTERN_H

#include <stdint.h>

#define WORDS_PER_PAGE 512u /* 4096 / 8 */

static inline uint64_t mv_mix(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t mv_expected(uint64_t seed, uint64_t page, uint32_t word)
{
    return mv_mix(mv_mix(seed) + page * WORDS_PER_PAGE + word);
}

static inline uint64_t mv_pass_seed(uint64_t seed, unsigned pass)
{
    return seed + (uint64_t)pass * 0x9E3779B97F4A7C15ULL;
}

#endif
