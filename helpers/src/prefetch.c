/* prefetch.c -- majority-trend detection over a VM's recent fault pages and the adaptive
 * prefetch window (issue 11, item 1). Pure logic, no I/O: vm.c feeds it every fault and
 * asks it for a trend; helpers/tests/prefetch-test.c checks it.
 *
 * Trend: the deltas between consecutive fault pages go into a ring of PF_HIST (32). A
 * trend is a delta held by a strict majority (more than half) of the last 8 deltas, or
 * failing that of the last 16, or of all 32, as in Leap (Al Maruf and Chowdhury, ATC'20):
 * a short window reacts fast to a new stream, the long ones tolerate interleaved noise
 * (another thread's faults, page-table walks). The majority candidate is found with the
 * Boyer-Moore vote, then counted to confirm it is a strict majority. Uniformly random
 * faults almost never have one, so prefetching stays off for them.
 *
 * Window: how many pages beyond the last fault are kept fetched. It grows with hits (it
 * doubles once as many hits as its size were seen since it last changed) and shrinks when
 * prefetching does not pay: a demand fetch with no hit since the last change, or a
 * prefetched page dropped unused, halve it. */
#include "prefetch.h"

void pf_trend_push(struct pf_trend *t, uint32_t pg)
{
	if (t->have_last) {
		t->delta[t->head] = (int32_t)(pg - t->last);
		t->head = (t->head + 1) % PF_HIST;
		if (t->n < PF_HIST)
			t->n++;
	}
	t->last = pg;
	t->have_last = true;
}

/* the i-th most recent delta (0 = newest) */
static int32_t recent(const struct pf_trend *t, uint32_t i)
{
	return t->delta[(t->head + PF_HIST - 1 - i) % PF_HIST];
}

static bool majority(const struct pf_trend *t, uint32_t w, int32_t *out)
{
	int32_t cand = 0;
	uint32_t votes = 0;
	for (uint32_t i = 0; i < w; i++) {
		int32_t d = recent(t, i);
		if (!votes) {
			cand = d;
			votes = 1;
		} else if (d == cand) {
			votes++;
		} else {
			votes--;
		}
	}
	uint32_t count = 0;
	for (uint32_t i = 0; i < w; i++)
		count += recent(t, i) == cand;
	if (2 * count <= w)
		return false;
	*out = cand;
	return true;
}

int32_t pf_trend_find(const struct pf_trend *t)
{
	for (uint32_t w = 8; w <= PF_HIST; w *= 2) {
		if (t->n < w)
			return 0;
		int32_t d;
		if (majority(t, w, &d))
			return d;
	}
	return 0;
}

void pf_window_init(struct pf_window *w, uint32_t max)
{
	w->max = max;
	w->size = max < 4 ? max : 4;
	w->hits = 0;
}

void pf_window_hit(struct pf_window *w)
{
	if (++w->hits >= w->size && w->size < w->max) {
		w->size = w->size * 2 > w->max ? w->max : w->size * 2;
		w->hits = 0;
	}
}

static void shrink(struct pf_window *w)
{
	if (w->size > 1)
		w->size /= 2;
	w->hits = 0;
}

void pf_window_miss(struct pf_window *w)
{
	if (!w->hits)
		shrink(w);
	else
		w->hits = 0;
}

void pf_window_wasted(struct pf_window *w)
{
	shrink(w);
}
