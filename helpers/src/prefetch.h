/* prefetch.h -- trend detection and prefetch window sizing (pure logic, see prefetch.c). */
#ifndef FLUIDMEM_PREFETCH_H
#define FLUIDMEM_PREFETCH_H

#include <stdbool.h>
#include <stdint.h>

#define PF_HIST 32 /* deltas kept: the widest detection window */

struct pf_trend {
	int32_t delta[PF_HIST]; /* ring of the last deltas between consecutive fault pages */
	uint32_t head, n;       /* next write position, deltas held (<= PF_HIST) */
	uint32_t last;          /* the last fault page */
	bool have_last;
};

struct pf_window {
	uint32_t size;  /* pages to keep fetched ahead of the last fault, 0..max */
	uint32_t max;   /* upper bound (FLUIDMEM_PREFETCH pages) */
	uint32_t hits;  /* prefetch hits since the window was last resized */
};

/* Records a fault on page pg (its delta to the previous fault joins the history). */
void pf_trend_push(struct pf_trend *t, uint32_t pg);

/* The strict-majority delta among the most recent 8 deltas, else among the most recent 16,
 * else among all 32 (Leap's rule: the narrowest window with a majority wins, so a new trend
 * is picked up after 5 faults and an old one survives some noise); 0 = no trend (no
 * window has a delta held by more than half of its entries, or the majority delta is 0). */
int32_t pf_trend_find(const struct pf_trend *t);

/* Window sizing: starts at min(4, max). A hit (a fault served from the prefetch buffer)
 * counts; once the hits since the last resize reach the window, it doubles (up to max). A
 * demand fetch (a miss on a remote page while a trend holds) with no hit since the last
 * resize halves it (never below 1 while a trend holds); a wasted prefetch (dropped unused)
 * halves it too. */
void pf_window_init(struct pf_window *w, uint32_t max);
void pf_window_hit(struct pf_window *w);
void pf_window_miss(struct pf_window *w);
void pf_window_wasted(struct pf_window *w);

#endif
