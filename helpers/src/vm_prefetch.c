/* vm_prefetch.c -- prefetch glue (issue 11 item 1): the VM side of fetching ahead; the trend
 * detector and window sizing are pure logic in prefetch.c.
 *
 * Only with a backend that has a prefetch operation (BE->prefetch: the Redis kinds; a local
 * store's fetch costs no more than serving from a buffer). Each fault read from
 * the uffd feeds the VM's trend detector; while a trend holds, the pages at pg + d*k
 * (k = 1..window) that are STORED are fetched ahead with pipelined GETs on the fetch
 * connection (BE->prefetch, sent by BE->fetch_kick) into a bounded pool of buffers shared by all VMs: at most
 * FLUIDMEM_PREFETCH_SHARE percent (default 12) of the resident limit, and at most PF_POOL
 * pages. The pages are not mapped until their own fault (installing them early would hide
 * their accesses from the LRU and from the trend detector); a fault on a page whose GET is
 * still in flight waits for that reply instead of issuing another. When the pool is full,
 * the oldest buffered page nobody faulted on goes back to STORED (prefetch_wasted) and the
 * window shrinks. FLUIDMEM_PREFETCH=N bounds the window (default 32 pages, 0 = off). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "wp.h"

#define PF_POOL 512u
enum { PFE_FREE = 0, PFE_INFLIGHT, PFE_READY };
struct pfent {
	uint64_t uid, seq, t0; /* t0: a fault waits for the reply (0 = none) */
	uint32_t pg, gen;
	uint8_t st;
};
static struct pfent pfe[PF_POOL];
static unsigned char *pf_data;
static uint32_t pf_used, pf_used_max, pf_max_window = 32, pf_share = 12;
static uint64_t pf_seq;
static bool pf_inited;

static void pf_init(void)
{
	if (pf_inited)
		return;
	pf_inited = true;
	const char *e = getenv("FLUIDMEM_PREFETCH");
	if (e && *e)
		pf_max_window = (uint32_t)strtoul(e, NULL, 10);
	if (pf_max_window > PF_HIST)
		pf_max_window = PF_HIST;
	e = getenv("FLUIDMEM_PREFETCH_SHARE");
	if (e && *e)
		pf_share = (uint32_t)strtoul(e, NULL, 10);
	if (pf_share > 50)
		pf_share = 50;
	if (pf_max_window && BE->prefetch) {
		pf_data = aligned_alloc(PS, (size_t)PF_POOL * PS);
		if (!pf_data) {
			logmsg("out of memory (prefetch buffers); prefetch off");
			pf_max_window = 0;
		}
	}
}

static bool pf_enabled(void)
{
	pf_init();
	return pf_max_window && pf_data;
}

static uint32_t pf_limit(void)
{
	uint64_t l = M.capacity * pf_share / 100;
	return l < PF_POOL ? (uint32_t)l : PF_POOL;
}

static void pf_release(struct vm *vm, uint32_t idx)
{
	pfe[idx].st = PFE_FREE;
	pfe[idx].t0 = 0;
	pf_used--;
	GAUGE(vm, prefetch_buffered, -1);
}

/* Frees the oldest buffered page no fault waits for: it goes back to STORED, unused. */
static bool pf_reclaim(void)
{
	uint32_t best = NIL;
	for (uint32_t i = 0; i < PF_POOL; i++)
		if (pfe[i].st == PFE_READY && !pfe[i].t0 && (best == NIL || pfe[i].seq < pfe[best].seq))
			best = i;
	if (best == NIL)
		return false;
	struct vm *vm = vm_by_uid(pfe[best].uid);
	if (vm) {
		vm->pages[pfe[best].pg].state = P_STORED;
		COUNT(vm, prefetch_wasted, 1);
		pf_window_wasted(&vm->pfw);
		pf_release(vm, best);
	} else {
		pfe[best].st = PFE_FREE;
		pf_used--;
	}
	return true;
}

void vm_prefetch_stats_json(char *buf, size_t n)
{
	pf_init();
	snprintf(buf, n, "{\"max_window\":%u,\"share_pct\":%u,\"limit\":%u,\"buffered\":%u,\"max_buffered\":%u}",
		 pf_enabled() ? pf_max_window : 0, pf_share, pf_enabled() ? pf_limit() : 0, pf_used, pf_used_max);
}

void pf_note(struct vm *vm, uint32_t pg)
{
	if (!pf_enabled())
		return;
	pf_trend_push(&vm->pft, pg);
	int32_t d = pf_trend_find(&vm->pft);
	if (d && !vm->pf_delta)
		pf_window_init(&vm->pfw, pf_max_window);
	vm->pf_delta = d;
}

void pf_issue(struct vm *vm, uint32_t pg)
{
	if (vm->dead || !vm->pf_delta || !pf_enabled() || BE->backpressure())
		return;
	/* Top up in batches: only once fewer than half the window's pages ahead are fetched
	 * or on their way. One pipelined write of several GETs wakes Redis (and then the
	 * monitor for the replies) once per batch instead of once per fault. */
	uint32_t ahead = 0, want = 0;
	for (uint32_t k = 1; k <= vm->pfw.size; k++) {
		int64_t q = (int64_t)pg + (int64_t)vm->pf_delta * k;
		if (q < 0 || q >= vm->npages)
			break;
		uint8_t st = vm->pages[q].state;
		ahead += st == P_PREFETCH || st == P_FETCHING || st == P_RESIDENT || st == P_QUEUED;
		want += st == P_STORED;
	}
	if (!want || 2 * ahead > vm->pfw.size)
		return;
	bool sent = false;
	for (uint32_t k = 1; k <= vm->pfw.size; k++) {
		int64_t q = (int64_t)pg + (int64_t)vm->pf_delta * k;
		if (q < 0 || q >= vm->npages)
			break;
		struct page *p = &vm->pages[q];
		if (p->state != P_STORED || !(p->flags & F_REMOTE))
			continue;
		if (pf_used >= pf_limit() && !pf_reclaim())
			break;
		uint32_t idx = 0;
		while (pfe[idx].st != PFE_FREE)
			idx++;
		pfe[idx] = (struct pfent){.uid = vm->uid, .seq = ++pf_seq, .pg = (uint32_t)q, .gen = ++M.fetch_gen,
					  .st = PFE_INFLIGHT};
		BE->prefetch(vm->uid, vm->id, (uint32_t)q, idx, pfe[idx].gen);
		pf_used++;
		if (pf_used > pf_used_max)
			pf_used_max = pf_used;
		p->state = P_PREFETCH;
		p->slot = idx;
		GAUGE(vm, prefetch_buffered, 1);
		COUNT(vm, prefetch_issued, 1);
		sent = true;
	}
	if (sent)
		BE->fetch_kick();
}

/* Installs a prefetched page for its fault; counts the hit. */
static int pf_install(struct vm *vm, uint32_t pg, uint32_t idx, uint64_t t0)
{
	const void *data = pf_data + (size_t)idx * PS;
	bool wp = wp_on(vm);
	int r = install_mode(vm, pg, data, wp);
	if (r == INST_REDISPATCH || r == INST_GONE)
		return r; /* still P_PREFETCH (GONE: a later fault installs it; REMOVE frees it) */
	if (r < 0)
		return r;
	pf_release(vm, idx);
	COUNT(vm, prefetch_hits, 1);
	COUNT(vm, remote_fetches, 1);
	COUNT(vm, bytes_read, PS);
	GAUGE(vm, remote_pages, -1);
	pf_window_hit(&vm->pfw);
	place(vm, pg, t0);
	if (wp)
		mark_clean(vm, pg, data);
	return INST_OK;
}

int pf_fault(struct vm *vm, uint32_t pg, uint64_t t0)
{
	uint32_t idx = vm->pages[pg].slot;
	if (pfe[idx].st == PFE_READY)
		return pf_install(vm, pg, idx, t0);
	if (!pfe[idx].t0) {
		pfe[idx].t0 = t0;
		GAUGE(vm, fetching_pages, 1);
	}
	return INST_OK;
}

void vm_prefetch_reply(void *cdata, uint64_t uid, uint32_t pg, uint32_t idx, uint32_t gen, const void *data)
{
	(void)cdata;
	struct vm *vm = vm_by_uid(uid);
	if (idx >= PF_POOL || pfe[idx].st != PFE_INFLIGHT || pfe[idx].gen != gen || pfe[idx].uid != uid)
		return; /* the page was removed (and the buffer maybe reused) meanwhile */
	if (!vm || vm->pages[pg].state != P_PREFETCH || vm->pages[pg].slot != idx) {
		pfe[idx].st = PFE_FREE;
		pf_used--;
		return;
	}
	if (!data) {
		logmsg("vm %s: page %u LOST: its key is missing or of the wrong length in %s; failing this "
		       "VM closed (its process stops rather than read a wrong page)", vm->id, pg, BE->where);
		vm_destroy(vm, "page lost by the backend");
		return;
	}
	memcpy(pf_data + (size_t)idx * PS, data, PS);
	pfe[idx].st = PFE_READY;
	uint64_t t0 = pfe[idx].t0;
	if (!t0)
		return;
	pfe[idx].t0 = 0;
	GAUGE(vm, fetching_pages, -1);
	int r = pf_install(vm, pg, idx, t0);
	if (r == INST_REDISPATCH) { /* (INST_GONE: woken; the UNMAP event frees the buffer) */
		defer(vm, pg, t0);
		M.progress = true;
	} else if (r < 0) {
		vm_destroy(vm, "cannot install prefetched page");
		return;
	}
	evict_tick();
}

void pf_drop(struct vm *vm, uint32_t pg)
{
	uint32_t idx = vm->pages[pg].slot;
	if (pfe[idx].t0) {
		GAUGE(vm, fetching_pages, -1);
		defer(vm, pg, pfe[idx].t0); /* its faulting thread still waits */
	}
	pf_release(vm, idx);
}

void pf_forget(struct vm *vm, uint32_t pg)
{
	pf_release(vm, vm->pages[pg].slot);
}

void pf_missed(struct vm *vm)
{
	if (vm->pf_delta)
		pf_window_miss(&vm->pfw); /* a demand fetch while a trend holds */
}
