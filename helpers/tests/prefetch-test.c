/* prefetch-test.c -- unit checks of the prefetch trend detector and window (src/prefetch.c).
 * Prints one line per failed check and "prefetch-test: N checks, M failed"; exit 0 only if
 * none failed. Run by orchestrator/test/handler/prefetch.test.ts. */
#include <stdio.h>
#include <string.h>

#include "prefetch.h"

static int checks, failed;

#define CHECK(cond, ...)                                                     \
	do {                                                                 \
		checks++;                                                    \
		if (!(cond)) {                                               \
			failed++;                                            \
			printf("FAIL line %d: ", __LINE__);                  \
			printf(__VA_ARGS__);                                 \
			printf("\n");                                        \
		}                                                            \
	} while (0)

static uint64_t rng_state = 12345;
static uint32_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)rng_state;
}

static void trend_cases(void)
{
	struct pf_trend t;
	memset(&t, 0, sizeof t);
	for (uint32_t p = 100; p < 105; p++)
		pf_trend_push(&t, p);
	CHECK(pf_trend_find(&t) == 0, "4 deltas are too few for the 8-wide window, got %d", pf_trend_find(&t));
	for (uint32_t p = 105; p < 110; p++)
		pf_trend_push(&t, p);
	CHECK(pf_trend_find(&t) == 1, "sequential scan: trend +1, got %d", pf_trend_find(&t));

	memset(&t, 0, sizeof t);
	for (uint32_t p = 1000; p > 900; p -= 3)
		pf_trend_push(&t, p);
	CHECK(pf_trend_find(&t) == -3, "descending stride 3: trend -3, got %d", pf_trend_find(&t));

	/* 5 of the last 8 deltas are +2, the rest noise: a strict majority */
	memset(&t, 0, sizeof t);
	uint32_t seq[] = {500, 10, 7000, 40, 42, 44, 46, 9, 11, 13, 15};
	for (unsigned i = 0; i < sizeof seq / sizeof seq[0]; i++)
		pf_trend_push(&t, seq[i]);
	CHECK(pf_trend_find(&t) == 2, "5/8 deltas +2: trend +2, got %d", pf_trend_find(&t));

	/* exactly half is not a majority in the 8 window; the 16 window has no majority either */
	memset(&t, 0, sizeof t);
	uint32_t half[] = {0, 1, 2, 3, 4, 900, 17, 3000, 55, 56, 57, 58, 59, 4000, 77, 2000, 31};
	for (unsigned i = 0; i < sizeof half / sizeof half[0]; i++)
		pf_trend_push(&t, half[i]);
	CHECK(pf_trend_find(&t) == 0, "4/8 and 8/16 are no strict majority, got %d", pf_trend_find(&t));

	/* a trend in the 16/32 windows survives a burst of noise in the last 8 */
	memset(&t, 0, sizeof t);
	for (uint32_t p = 0; p < 26; p++)
		pf_trend_push(&t, p);
	for (int i = 0; i < 6; i++)
		pf_trend_push(&t, rng() % 100000);
	CHECK(pf_trend_find(&t) == 1, "+1 over 32 with 6 noisy deltas: trend +1, got %d", pf_trend_find(&t));

	/* uniformly random faults: (almost) never a trend */
	memset(&t, 0, sizeof t);
	int found = 0;
	for (int i = 0; i < 100000; i++) {
		pf_trend_push(&t, rng() % 262144);
		found += pf_trend_find(&t) != 0;
	}
	CHECK(found < 10, "uniform random: %d of 100000 faults saw a trend", found);

	/* repeated faults on one page (delta 0) are no trend */
	memset(&t, 0, sizeof t);
	for (int i = 0; i < 40; i++)
		pf_trend_push(&t, 77);
	CHECK(pf_trend_find(&t) == 0, "delta 0 is no trend, got %d", pf_trend_find(&t));
}

static void window_cases(void)
{
	struct pf_window w;
	pf_window_init(&w, 32);
	CHECK(w.size == 4, "initial window 4, got %u", w.size);
	for (int i = 0; i < 4; i++)
		pf_window_hit(&w);
	CHECK(w.size == 8, "4 hits double a 4-page window, got %u", w.size);
	for (int i = 0; i < 100; i++)
		pf_window_hit(&w);
	CHECK(w.size == 32, "hits grow it to the bound 32, got %u", w.size);
	pf_window_miss(&w);
	CHECK(w.size == 32, "a miss after hits keeps the size, got %u", w.size);
	pf_window_miss(&w);
	CHECK(w.size == 16, "a miss without hits halves it, got %u", w.size);
	pf_window_wasted(&w);
	CHECK(w.size == 8, "a wasted prefetch halves it, got %u", w.size);
	for (int i = 0; i < 10; i++)
		pf_window_miss(&w);
	CHECK(w.size == 1, "it never shrinks below 1, got %u", w.size);
	pf_window_init(&w, 2);
	CHECK(w.size == 2, "initial window bounded by max 2, got %u", w.size);
	for (int i = 0; i < 10; i++)
		pf_window_hit(&w);
	CHECK(w.size == 2, "never above max, got %u", w.size);
}

int main(void)
{
	trend_cases();
	window_cases();
	printf("prefetch-test: %d checks, %d failed\n", checks, failed);
	return failed ? 1 : 0;
}
