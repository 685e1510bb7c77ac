/* vm.c -- per-VM fault service and eviction (the page state machine of monitor.h).
 *
 * Fault path: read uffd messages, look the page up, and answer with UFFDIO_ZEROPAGE
 * (never-seen page) or UFFDIO_COPY (from the DRAM store, the write-behind buffer, or a
 * Redis GET reply). Placement never waits for eviction unless the resident set is
 * really full: evict_tick() keeps it `headroom` pages below capacity by sending the
 * oldest pages in batches to the agent inside the attached process, which moves them
 * into its staging area (UFFDIO_MOVE) and copies them into the VM's staging memfd. When
 * the agent answers, the content is read from that memfd (pread; never from the attached
 * process's memory), stored (DRAM) or queued for Redis (write-behind); the area is then
 * free for the next batch. A fault that arrives for a page of an in-flight
 * batch is deferred and served from the captured content.
 *
 * Accounting invariant, at any time and per VM:
 *   zero_fills + remote_fetches = faults = resident + evicting + evictions + removed */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "json.h"
#include "monitor.h"
#include "wp.h"

struct monitor M;

#define PS FM_PAGE_SIZE
#define GAUGE(vm, f, d) do { (vm)->c.f += (d); M.total.f += (d); } while (0)
#define COUNT(vm, f, d) do { (vm)->c.f += (d); M.total.f += (d); } while (0)

struct deferred { uint64_t uid; uint32_t pg; uint64_t t0; };
static struct deferred *defq;
static size_t ndef, capdef;

static void defer(struct vm *vm, uint32_t pg, uint64_t t0)
{
	if (ndef == capdef) {
		capdef = capdef ? capdef * 2 : 256;
		defq = realloc(defq, capdef * sizeof *defq);
		if (!defq) {
			logmsg("out of memory (deferred faults)");
			exit(1);
		}
	}
	defq[ndef++] = (struct deferred){vm->uid, pg, t0};
}

/* uid -> live VM, open addressing with linear probing (issue 11 item 5: every Redis reply,
 * queued SET and deferred fault looks its VM up; this keeps that independent of the number
 * of attached VMs). A VM is in the table from vm_create until vm_destroy. */
#define UID_TAB 256 /* > 2 x FM_MAX_ATTACHED */
static struct vm *uid_tab[UID_TAB];

static void uid_put(struct vm *vm)
{
	uint32_t i = (uint32_t)(vm->uid % UID_TAB);
	while (uid_tab[i])
		i = (i + 1) % UID_TAB;
	uid_tab[i] = vm;
}

static void uid_del(struct vm *vm)
{
	uint32_t i = (uint32_t)(vm->uid % UID_TAB);
	while (uid_tab[i] && uid_tab[i] != vm)
		i = (i + 1) % UID_TAB;
	if (!uid_tab[i])
		return;
	uid_tab[i] = NULL;
	/* backward shift: move later entries of the run into the hole where their probe allows */
	for (uint32_t j = (i + 1) % UID_TAB; uid_tab[j]; j = (j + 1) % UID_TAB) {
		uint32_t k = (uint32_t)(uid_tab[j]->uid % UID_TAB);
		bool stays = i <= j ? (k > i && k <= j) : (k > i || k <= j);
		if (!stays) {
			uid_tab[i] = uid_tab[j];
			uid_tab[j] = NULL;
			i = j;
		}
	}
}

struct vm *vm_by_uid(uint64_t uid)
{
	for (uint32_t i = (uint32_t)(uid % UID_TAB); uid_tab[i]; i = (i + 1) % UID_TAB)
		if (uid_tab[i]->uid == uid)
			return uid_tab[i]->dead ? NULL : uid_tab[i];
	return NULL;
}

uint64_t used_pages(void)
{
	int64_t u = M.total.resident_pages + M.total.fetching_pages + M.total.evicting_pages;
	return u > 0 ? (uint64_t)u : 0;
}

static uint64_t headroom(void)
{
	uint64_t h = M.capacity / 8;
	if (h < 1)
		h = 1;
	if (h > 256)
		h = 256;
	return h;
}

size_t vm_meta_bytes(const struct vm *vm)
{
	return sizeof *vm + (size_t)vm->npages * sizeof(struct page);
}

/* ---- LRU ---- */

static void lru_append(struct vm *vm, uint32_t pg)
{
	struct page *p = &vm->pages[pg];
	p->prev = vm->lru_tail;
	p->next = NIL;
	if (vm->lru_tail != NIL)
		vm->pages[vm->lru_tail].next = pg;
	else
		vm->lru_head = pg;
	vm->lru_tail = pg;
}

static void lru_unlink(struct vm *vm, uint32_t pg)
{
	struct page *p = &vm->pages[pg];
	if (p->prev != NIL)
		vm->pages[p->prev].next = p->next;
	else
		vm->lru_head = p->next;
	if (p->next != NIL)
		vm->pages[p->next].prev = p->prev;
	else
		vm->lru_tail = p->prev;
	p->prev = p->next = NIL;
}

static void place(struct vm *vm, uint32_t pg, uint64_t t0)
{
	struct page *p = &vm->pages[pg];
	p->flags &= (uint8_t)~F_CLEAN; /* set again by mark_clean() where it applies */
	p->state = P_RESIDENT;
	p->flags &= (uint8_t)~F_UNSURE;
	p->tick = ++M.tick;
	lru_append(vm, pg);
	GAUGE(vm, resident_pages, 1);
	COUNT(vm, faults, 1);
	uint64_t dt = now_ns() - t0;
	hist_add(&vm->c.lat, dt);
	hist_add(&M.total.lat, dt);
}

static void drop_remote(struct vm *vm, struct page *p, uint32_t pg)
{
	if (p->flags & F_REMOTE) {
		redis_del(vm, pg);
		p->flags &= (uint8_t)~F_REMOTE;
	}
}

/* ---- uffd events ---- */

static void handle_remove(struct vm *vm, uint64_t start, uint64_t end);
static void drain_events(struct vm *vm, bool defer_faults);

static void wake(struct vm *vm, uint32_t pg)
{
	struct uffdio_range r = {.start = vm->base + (uint64_t)pg * PS, .len = PS};
	ioctl(vm->uffd, UFFDIO_WAKE, &r);
}

/* Install a page (src == NULL: the zero page). 0: installed; 1: something was already
 * mapped there (woken instead); 2: the range is no longer registered (being unmapped:
 * ENOENT; the faulting thread is woken, retries and meets the unmapped range or faults
 * again; the UNMAP event cleans the state up); -2: the page's state changed while we
 * waited for a concurrent non-cooperative event (caller re-dispatches); -1: fatal. */
enum { INST_OK = 0, INST_EXISTS = 1, INST_GONE = 2, INST_REDISPATCH = -2, INST_FATAL = -1 };
static int install_mode(struct vm *vm, uint32_t pg, const void *src, bool wp)
{
	uint64_t addr = vm->base + (uint64_t)pg * PS;
	uint8_t st0 = vm->pages[pg].state;
	for (;;) {
		int r;
		if (src) {
			struct uffdio_copy c = {.dst = addr, .src = (uint64_t)(uintptr_t)src, .len = PS,
						.mode = wp ? UFFDIO_COPY_MODE_WP : 0};
			r = ioctl(vm->uffd, UFFDIO_COPY, &c);
		} else {
			struct uffdio_zeropage z = {.range = {.start = addr, .len = PS}};
			r = ioctl(vm->uffd, UFFDIO_ZEROPAGE, &z);
		}
		if (r == 0)
			return 0;
		if (errno == EEXIST) {
			wake(vm, pg);
			return INST_EXISTS;
		}
		if (errno == ENOENT) {
			wake(vm, pg);
			return INST_GONE;
		}
		if (errno == EINVAL && wp) { /* the range is not registered for write-protect */
			wp_disable(vm, "UFFDIO_COPY_MODE_WP refused");
			wp = false;
			continue;
		}
		if (errno != EAGAIN) {
			logmsg("vm %s: UFFDIO_%s of page %u failed: %s", vm->id, src ? "COPY" : "ZEROPAGE",
			       pg, strerror(errno));
			return -1;
		}
		drain_events(vm, true); /* mmap changing: read the pending event first */
		if (vm->dead)
			return -1;
		if (vm->pages[pg].state != st0)
			return -2;
		sched_yield();
	}
}

static int install(struct vm *vm, uint32_t pg, const void *src)
{
	return install_mode(vm, pg, src, false);
}

/* issue 11 (wp.c): a page just installed write-protected from the store's current copy
 * (its key kept: F_REMOTE) is clean until written; slot keeps the content's hash. */
static void mark_clean(struct vm *vm, uint32_t pg, const void *data)
{
	struct page *p = &vm->pages[pg];
	if (p->state != P_RESIDENT || !(p->flags & F_REMOTE) || !wp_on(vm))
		return;
	p->flags |= F_CLEAN;
	p->slot = wp_hash(data);
}

/* A fault on a page believed RESIDENT is either a duplicate message (the page is mapped:
 * ZEROPAGE fails with EEXIST, wake the thread) or the page was discarded behind our back:
 * a REMOVE (MADV_DONTNEED) whose event we read before the kernel zapped the range, while
 * we installed the page for a fault raised earlier. The kernel has zapped it since, so
 * the page's content is zero: ZEROPAGE installs exactly that. Only waking would let the
 * vCPU fault again forever. */
static void resolve_resident(struct vm *vm, uint32_t pg, uint64_t t0)
{
	struct page *p = &vm->pages[pg];
	int r = install(vm, pg, NULL);
	if (r == INST_EXISTS || r == INST_GONE)
		return;
	if (r == INST_REDISPATCH) {
		defer(vm, pg, t0);
		M.progress = true;
		return;
	}
	if (r == INST_FATAL) {
		vm_destroy(vm, "cannot install pages");
		return;
	}
	/* discarded after we installed it: account the discard, then the fresh zero fill */
	logmsg("vm %s: page %u was discarded after it was installed (a REMOVE raced its fault); "
	       "zero-filled again", vm->id, pg);
	lru_unlink(vm, pg);
	GAUGE(vm, resident_pages, -1);
	COUNT(vm, removed_pages, 1);
	drop_remote(vm, p, pg);
	COUNT(vm, zero_fills, 1);
	place(vm, pg, t0);
}

/* ---- prefetch (issue 11 item 1; trend and window logic in prefetch.c) ----
 *
 * Redis only (a DRAM fetch costs no more than serving from a buffer). Each fault read from
 * the uffd feeds the VM's trend detector; while a trend holds, the pages at pg + d*k
 * (k = 1..window) that are STORED are fetched ahead with pipelined GETs on the fetch
 * connection into a bounded pool of buffers shared by all VMs: at most
 * FLUIDMEM_PREFETCH_SHARE percent (default 12) of the resident limit, and at most PF_POOL
 * pages. The pages are not mapped until their own fault (installing them early would hide
 * their accesses from the LRU and from the trend detector); a fault on a page whose GET is
 * still in flight waits for that reply instead of issuing another. When the pool is full,
 * the oldest buffered page nobody faulted on goes back to STORED (prefetch_wasted) and the
 * window shrinks. FLUIDMEM_PREFETCH=N bounds the window (default 32 pages, 0 = off). */
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
	if (pf_max_window && backend_kind() == BK_REDIS) {
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

/* A fault read from the uffd (not a retry): feed the trend detector. */
static void pf_note(struct vm *vm, uint32_t pg)
{
	if (!pf_enabled())
		return;
	pf_trend_push(&vm->pft, pg);
	int32_t d = pf_trend_find(&vm->pft);
	if (d && !vm->pf_delta)
		pf_window_init(&vm->pfw, pf_max_window);
	vm->pf_delta = d;
}

/* After serving a fault on pg: keep the pages ahead of it along the trend fetched. */
static void pf_issue(struct vm *vm, uint32_t pg)
{
	if (vm->dead || !vm->pf_delta || !pf_enabled() || redis_backpressure())
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
		if (!redis_prefetch(vm, (uint32_t)q, idx, pfe[idx].gen)) {
			pfe[idx].st = PFE_FREE; /* not supported by this backend (redis-cluster://) */
			break;
		}
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
		redis_fetch_kick();
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

/* A fault on a P_PREFETCH page: served from the buffer, or it waits for the GET in flight. */
static int pf_fault(struct vm *vm, uint32_t pg, uint64_t t0)
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

void vm_prefetch_reply(uint64_t uid, uint32_t pg, uint32_t idx, uint32_t gen, const void *data)
{
	struct vm *vm = vm_by_uid(uid);
	if (idx >= PF_POOL || pfe[idx].st != PFE_INFLIGHT || pfe[idx].gen != gen || pfe[idx].uid != uid)
		return; /* the page was removed (and the buffer maybe reused) meanwhile */
	if (!vm || vm->pages[pg].state != P_PREFETCH || vm->pages[pg].slot != idx) {
		pfe[idx].st = PFE_FREE;
		pf_used--;
		return;
	}
	if (!data) {
		logmsg("vm %s: page %u LOST: its key is missing or of the wrong length in Redis; failing this "
		       "VM closed (its process stops rather than read a wrong page)", vm->id, pg);
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

/* REMOVE/UNMAP of a P_PREFETCH page, or its VM leaving: free its buffer. */
static void pf_drop(struct vm *vm, uint32_t pg)
{
	uint32_t idx = vm->pages[pg].slot;
	if (pfe[idx].t0) {
		GAUGE(vm, fetching_pages, -1);
		defer(vm, pg, pfe[idx].t0); /* its faulting thread still waits */
	}
	pf_release(vm, idx);
}

void vm_fault(struct vm *vm, uint32_t pg, uint64_t t0)
{
	if (vm->dead)
		return;
	struct page *p = &vm->pages[pg];
	switch (p->state) {
	case P_RESIDENT:
		resolve_resident(vm, pg, t0);
		return;
	case P_FETCHING:
		return; /* the GET reply serves it */
	case P_EVICTING:
		defer(vm, pg, t0);
		return;
	default:
		break;
	}
	if (used_pages() >= M.capacity) {
		defer(vm, pg, t0);
		evict_tick();
		return;
	}
	int r = 0;
	switch (p->state) {
	case P_ABSENT:
		r = install(vm, pg, NULL);
		if (r == INST_REDISPATCH || r == INST_GONE)
			break;
		if (r < 0)
			goto fatal;
		COUNT(vm, zero_fills, 1);
		place(vm, pg, t0);
		break;
	case P_QUEUED:
		r = install(vm, pg, wb_page(p->slot));
		if (r == INST_REDISPATCH || r == INST_GONE)
			break;
		if (r < 0)
			goto fatal;
		COUNT(vm, remote_fetches, 1);
		COUNT(vm, queue_hits, 1);
		GAUGE(vm, remote_pages, -1);
		place(vm, pg, t0);
		break;
	case P_PREFETCH:
		r = pf_fault(vm, pg, t0);
		if (r == INST_FATAL)
			goto fatal;
		break;
	case P_UNKNOWN: /* reattached: in Redis, or zero (no key); the GET tells */
		p->flags |= F_UNSURE;
		GAUGE(vm, remote_pages, 1);
		/* fall through */
	case P_STORED:
		if (backend_kind() == BK_REDIS) {
			if (vm->pf_delta)
				pf_window_miss(&vm->pfw); /* a demand fetch while a trend holds */
			p->state = P_FETCHING;
			p->slot = ++M.fetch_gen;
			GAUGE(vm, fetching_pages, 1);
			redis_get(vm, pg, t0);
			break;
		}
		r = install(vm, pg, dram_page(p->slot));
		if (r == INST_REDISPATCH || r == INST_GONE)
			break;
		if (r < 0)
			goto fatal;
		dram_free(p->slot);
		COUNT(vm, remote_fetches, 1);
		COUNT(vm, bytes_read, PS);
		GAUGE(vm, remote_pages, -1);
		place(vm, pg, t0);
		break;
	}
	if (r == INST_REDISPATCH) {
		defer(vm, pg, t0); /* state changed under us: dispatch again from the main loop */
		M.progress = true;
	}
	evict_tick();
	return;
fatal:
	vm_destroy(vm, "cannot install pages");
}

void vm_place_fetched(struct vm *vm, uint32_t pg, const void *data, uint64_t t0)
{
	if (vm->dead || vm->pages[pg].state != P_FETCHING)
		return; /* removed meanwhile; the fault was re-queued then */
	bool wp = data && wp_on(vm);
	int r = install_mode(vm, pg, data, wp);
	if (r == INST_REDISPATCH)
		return;
	if (r == INST_GONE) {
		/* the range is being unmapped: keep the stored copy, a later fault fetches again */
		struct page *p = &vm->pages[pg];
		GAUGE(vm, fetching_pages, -1);
		if (p->flags & F_UNSURE) {
			p->flags &= (uint8_t)~F_UNSURE;
			p->state = P_UNKNOWN;
			GAUGE(vm, remote_pages, -1);
		} else {
			p->state = P_STORED;
		}
		return;
	}
	if (r < 0) {
		vm_destroy(vm, "cannot install fetched page");
		return;
	}
	GAUGE(vm, fetching_pages, -1);
	GAUGE(vm, remote_pages, -1);
	if (data) {
		COUNT(vm, remote_fetches, 1);
		COUNT(vm, bytes_read, PS);
	} else {
		COUNT(vm, zero_fills, 1); /* a reattached page without a key: it was all-zero */
	}
	place(vm, pg, t0);
	if (wp)
		mark_clean(vm, pg, data);
	evict_tick();
}

static void handle_remove(struct vm *vm, uint64_t start, uint64_t end)
{
	if (end <= vm->base || start >= vm->base + vm->size)
		return; /* e.g. the agent freeing staging slots */
	if (start < vm->base)
		start = vm->base;
	if (end > vm->base + vm->size)
		end = vm->base + vm->size;
	uint32_t first = (uint32_t)((start - vm->base) / PS);
	uint32_t last = (uint32_t)((end - vm->base + PS - 1) / PS);
	for (uint32_t pg = first; pg < last; pg++) {
		struct page *p = &vm->pages[pg];
		switch (p->state) {
		case P_RESIDENT:
			lru_unlink(vm, pg);
			GAUGE(vm, resident_pages, -1);
			COUNT(vm, removed_pages, 1);
			p->state = P_ABSENT;
			break;
		case P_EVICTING:
			p->flags |= F_DROPPED; /* counted when the batch completes */
			break;
		case P_STORED:
			if (backend_kind() == BK_DRAM)
				dram_free(p->slot);
			GAUGE(vm, remote_pages, -1);
			p->state = P_ABSENT;
			break;
		case P_QUEUED:
			GAUGE(vm, remote_pages, -1);
			p->state = P_ABSENT;
			break;
		case P_PREFETCH:
			pf_drop(vm, pg);
			GAUGE(vm, remote_pages, -1);
			p->state = P_ABSENT;
			break;
		case P_FETCHING:
			GAUGE(vm, remote_pages, -1);
			GAUGE(vm, fetching_pages, -1);
			p->state = P_ABSENT;
			defer(vm, pg, now_ns()); /* its faulting thread still waits */
			break;
		case P_UNKNOWN:
			p->state = P_ABSENT;
			break;
		default:
			break;
		}
		p->flags &= (uint8_t)~F_UNSURE;
		drop_remote(vm, p, pg);
	}
	M.progress = true;
}

static void drain_events(struct vm *vm, bool defer_faults)
{
	struct uffd_msg msgs[32];
	for (;;) {
		ssize_t n = read(vm->uffd, msgs, sizeof msgs);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				return;
			logmsg("vm %s: reading userfaultfd: %s", vm->id, strerror(errno));
			vm_destroy(vm, "userfaultfd read error");
			return;
		}
		if (n == 0) {
			vm_destroy(vm, "userfaultfd closed");
			return;
		}
		uint64_t t0 = now_ns();
		for (size_t i = 0; i < (size_t)n / sizeof msgs[0] && !vm->dead; i++) {
			struct uffd_msg *m = &msgs[i];
			if (m->event == UFFD_EVENT_PAGEFAULT) {
				uint64_t a = m->arg.pagefault.address & ~(uint64_t)(PS - 1);
				if (a >= vm->base && a < vm->base + vm->size) {
					uint32_t pg = (uint32_t)((a - vm->base) / PS);
					if (defer_faults) {
						/* read while an install waits out an event: retry it as
						 * soon as the main loop runs, nothing else will wake it */
						defer(vm, pg, t0);
						M.progress = true;
					} else {
						pf_note(vm, pg);
						vm_fault(vm, pg, t0);
						pf_issue(vm, pg);
					}
				} else {
					/* staging slots are only read once populated; never expected */
					logmsg("vm %s: unexpected fault at 0x%llx (staging?)", vm->id,
					       (unsigned long long)a);
					struct uffdio_zeropage z = {.range = {.start = a, .len = PS}};
					ioctl(vm->uffd, UFFDIO_ZEROPAGE, &z);
				}
			} else if (m->event == UFFD_EVENT_REMOVE || m->event == UFFD_EVENT_UNMAP) {
				handle_remove(vm, m->arg.remove.start, m->arg.remove.end);
			}
		}
		if ((size_t)n < sizeof msgs)
			return;
	}
}

void vm_on_uffd(struct vm *vm)
{
	if (vm->dead)
		return;
	drain_events(vm, false);
}

/* ---- eviction ---- */

static struct vm *pick_victim_vm(void)
{
	struct vm *best = NULL;
	for (struct vm *v = M.vms; v; v = v->next) {
		if (v->dead || v->lru_head == NIL)
			continue;
		bool free_area = false;
		for (unsigned a = 0; a < FM_AREAS && !free_area; a++)
			free_area = !v->batches[a].busy;
		if (!free_area)
			continue;
		if (!best || (int32_t)(v->pages[v->lru_head].tick - best->pages[best->lru_head].tick) < 0)
			best = v;
	}
	return best;
}

static void send_batch(struct vm *vm, uint32_t k)
{
	unsigned a = 0;
	while (vm->batches[a].busy)
		a++;
	struct batch *b = &vm->batches[a];
	static _Alignas(8) unsigned char msg[FM_MSG_MAX];
	struct fm_hdr *h = (struct fm_hdr *)msg;
	struct fm_evict_ent *e = (struct fm_evict_ent *)(h + 1);
	b->busy = true;
	b->sent_ns = now_ns();
	b->seq = ++vm->next_seq;
	b->n = k;
	b->wb_reserved = 0;
	if (backend_kind() == BK_REDIS) {
		wb_reserve(k);
		b->wb_reserved = k;
	}
	*h = (struct fm_hdr){.type = FM_EVICT, .count = k, .seq = b->seq, .arg = a};
	for (uint32_t i = 0; i < k; i++) {
		uint32_t pg = vm->lru_head;
		struct page *p = &vm->pages[pg];
		lru_unlink(vm, pg);
		p->state = P_EVICTING;
		b->hash[i] = p->slot; /* F_CLEAN: the content hash at install */
		p->slot = a * FM_BATCH_MAX + i;
		b->pages[i] = pg;
		e[i] = (struct fm_evict_ent){.page = pg, .slot = p->slot, .status = 0};
	}
	wp_scan_batch(vm, b->pages, k); /* before the move: written pages lose F_CLEAN */
	GAUGE(vm, resident_pages, -(int64_t)k);
	GAUGE(vm, evicting_pages, (int64_t)k);
	size_t len = sizeof *h + k * sizeof *e;
	if (send(vm->sock, msg, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len) {
		logmsg("vm %s: sending EVICT: %s", vm->id, strerror(errno));
		vm_destroy(vm, "agent unreachable");
	}
}

void evict_tick(void)
{
	if (redis_backpressure())
		return; /* Redis refuses writes: evictions stall, faults wait for capacity */
	for (;;) {
		uint64_t cap = M.capacity, h = headroom();
		uint64_t target = cap > h ? cap - h : 0;
		int64_t lru_used = M.total.resident_pages + M.total.fetching_pages;
		if (lru_used <= (int64_t)target)
			return;
		uint64_t need = (uint64_t)lru_used - target;
		bool pressing = used_pages() >= cap;
		if (!pressing && need < (h + 1) / 2)
			return; /* wait until half the headroom is used: bigger batches */
		struct vm *vm = pick_victim_vm();
		if (!vm)
			return;
		uint64_t k = need;
		if (k > FM_BATCH_MAX)
			k = FM_BATCH_MAX;
		if (k > (uint64_t)vm->c.resident_pages)
			k = (uint64_t)vm->c.resident_pages;
		if (backend_kind() == BK_REDIS && k > wb_available())
			k = wb_available();
		if (k == 0)
			return;
		send_batch(vm, (uint32_t)k);
	}
}

int vm_tick(void)
{
	static uint64_t limit_ns;
	if (!limit_ns) {
		const char *e = getenv("FLUIDMEM_EVICT_TIMEOUT_MS");
		unsigned long long ms = e && *e ? strtoull(e, NULL, 10) : 0;
		limit_ns = (ms >= 100 ? ms : 10000ull) * 1000000ull;
	}
	uint64_t now = now_ns(), next = UINT64_MAX;
	for (struct vm *v = M.vms; v; v = v->next) {
		for (unsigned a = 0; a < FM_AREAS && !v->dead; a++) {
			struct batch *b = &v->batches[a];
			if (!b->busy || b->captured) /* captured: waits for Redis, which has its own deadline */
				continue;
			if (now - b->sent_ns > limit_ns) {
				logmsg("vm %s: agent left EVICT batch %llu (%u pages) unanswered for %llu ms "
				       "(FLUIDMEM_EVICT_TIMEOUT_MS; process frozen?); dropping the VM to free its capacity",
				       v->id, (unsigned long long)b->seq, b->n,
				       (unsigned long long)((now - b->sent_ns) / 1000000ull));
				vm_destroy(v, "EVICT unanswered past its deadline");
				break;
			}
			uint64_t left = b->sent_ns + limit_ns - now;
			if (left < next)
				next = left;
		}
	}
	return next == UINT64_MAX ? -1 : (int)(next / 1000000ull) + 1;
}

bool evictions_idle(void)
{
	return M.total.evicting_pages == 0;
}

static bool is_zero(const void *page)
{
	const uint64_t *w = page;
	for (size_t i = 0; i < PS / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* The agent answered an EVICT: check every entry is exactly what was sent (page and the
 * slot the monitor assigned: anything else is a protocol violation and drops the VM), then
 * read the batch's staged pages from the VM's staging memfd with one pread(). The monitor
 * never reads the attached process's memory, so a lying or broken agent cannot make it
 * fault on a userfaultfd or read anything but that memfd. */
static void capture(struct vm *vm, struct fm_hdr *h, struct fm_evict_ent *e)
{
	static _Alignas(64) unsigned char scratch[FM_BATCH_MAX * PS];
	uint64_t a = h->arg;
	if (a >= FM_AREAS || !vm->batches[a].busy || vm->batches[a].captured || vm->batches[a].seq != h->seq ||
	    vm->batches[a].n != h->count) {
		vm_destroy(vm, "agent answered an unknown batch");
		return;
	}
	struct batch *b = &vm->batches[a];
	bool moved = false;
	for (uint32_t i = 0; i < b->n; i++) {
		if (e[i].page != b->pages[i] || e[i].slot != a * FM_BATCH_MAX + i) {
			logmsg("vm %s: EVICTED entry %u names page %llu slot %u, sent page %u slot %llu", vm->id, i,
			       (unsigned long long)e[i].page, e[i].slot, b->pages[i],
			       (unsigned long long)(a * FM_BATCH_MAX + i));
			vm_destroy(vm, "agent answered a page or slot the monitor did not assign");
			return;
		}
		moved |= e[i].status == 0;
	}
	if (moved) {
		size_t want = (size_t)b->n * PS;
		off_t off = (off_t)(a * FM_BATCH_MAX * PS);
		size_t got = 0;
		while (got < want) {
			ssize_t r = pread(vm->memfd, scratch + got, want - got, off + (off_t)got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				logmsg("vm %s: reading the staging memfd: %s", vm->id, r < 0 ? strerror(errno) : "short file");
				vm_destroy(vm, "cannot read staged pages");
				return;
			}
			got += (size_t)r;
		}
	}
	for (uint32_t i = 0; i < b->n; i++) {
		uint32_t pg = b->pages[i];
		struct page *p = &vm->pages[pg];
		const unsigned char *data = scratch + (size_t)i * PS;
		bool clean = p->flags & F_CLEAN; /* issue 11: unwritten per PAGEMAP_SCAN before the move */
		p->flags &= (uint8_t)~F_CLEAN;
		GAUGE(vm, evicting_pages, -1);
		if (e[i].status != 0 && e[i].status != ENOENT) {
			/* not moved (e.g. pinned for I/O): the page is still mapped */
			if (!(p->flags & F_DROPPED)) {
				p->state = P_RESIDENT;
				lru_append(vm, pg);
				GAUGE(vm, resident_pages, 1);
				continue;
			}
		}
		if (e[i].status != 0 || (p->flags & F_DROPPED)) {
			if (!(p->flags & F_DROPPED))
				logmsg("vm %s: page %u was not mapped when evicted", vm->id, pg);
			p->flags &= (uint8_t)~F_DROPPED;
			p->state = P_ABSENT;
			COUNT(vm, removed_pages, 1);
			drop_remote(vm, p, pg);
			continue;
		}
		COUNT(vm, evictions, 1);
		if (is_zero(data)) {
			p->state = P_ABSENT; /* all-zero pages are not stored */
			drop_remote(vm, p, pg);
			continue;
		}
		if (clean && (p->flags & F_REMOTE) && wp_still_clean(data, b->hash[i])) {
			p->state = P_STORED; /* the store holds exactly this content: no write */
			COUNT(vm, clean_drops, 1);
			GAUGE(vm, remote_pages, 1);
			continue;
		}
		if (backend_kind() == BK_DRAM) {
			p->slot = dram_store(data);
			p->state = P_STORED;
		} else {
			p->slot = wb_take(data);
			b->wb_reserved--;
			p->state = P_QUEUED;
			p->flags |= F_REMOTE;
			redis_set(vm, pg, p->slot);
		}
		COUNT(vm, backend_writes, 1);
		COUNT(vm, bytes_written, PS);
		GAUGE(vm, remote_pages, 1);
	}
	if (b->wb_reserved)
		wb_unreserve(b->wb_reserved);
	b->wb_reserved = 0;
	/* The memfd slots keep the batch's only copy outside Redis until every write issued so
	 * far (this batch's SETs and UNLINKs, and older ones) is acknowledged: only then may the
	 * agent overwrite the area (vm_durability_tick). DRAM has nothing to wait for. */
	b->mark = redis_durable_mark();
	b->captured = backend_kind() == BK_REDIS; /* released (FM_RELEASED) by vm_durability_tick */
	b->busy = b->captured;
	M.progress = true;
}

void redis_set_done(uint64_t vm_uid, uint32_t pg, uint32_t buf)
{
	struct vm *vm = vm_by_uid(vm_uid);
	if (vm && vm->pages[pg].state == P_QUEUED && vm->pages[pg].slot == buf)
		vm->pages[pg].state = P_STORED;
	M.progress = true;
}

/* FM_DISCARD: the process is about to discard [arg, arg+count) pages. Drop them and their
 * keys now (as a REMOVE event would), and answer once those UNLINKs are acknowledged. */
static void on_discard(struct vm *vm, const struct fm_hdr *h)
{
	if (h->count == 0 || h->arg >= vm->npages || h->count > vm->npages - h->arg) {
		vm_destroy(vm, "agent discards pages outside its region");
		return;
	}
	handle_remove(vm, vm->base + h->arg * PS, vm->base + (h->arg + h->count) * PS);
	if (vm->ndiscards == vm->capdiscards) {
		size_t nc = vm->capdiscards ? vm->capdiscards * 2 : 16;
		void *nd = realloc(vm->discards, nc * sizeof *vm->discards);
		if (!nd) {
			vm_destroy(vm, "out of memory (discards)");
			return;
		}
		vm->discards = nd;
		vm->capdiscards = nc;
	}
	vm->discards[vm->ndiscards].seq = h->seq;
	vm->discards[vm->ndiscards].mark = redis_durable_mark();
	vm->ndiscards++;
	M.progress = true;
}

void vm_durability_tick(void)
{
	for (struct vm *v = M.vms; v; v = v->next) {
		for (unsigned a = 0; a < FM_AREAS && !v->dead; a++) {
			struct batch *b = &v->batches[a];
			if (b->captured && redis_durable(b->mark)) {
				b->captured = b->busy = false;
				M.progress = true;
				struct fm_hdr h = {.type = FM_RELEASED, .arg = a};
				if (send(v->sock, &h, sizeof h, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof h) {
					logmsg("vm %s: sending RELEASED: %s", v->id, strerror(errno));
					vm_destroy(v, "agent unreachable");
				}
			}
		}
		size_t k = 0;
		for (size_t i = 0; i < v->ndiscards && !v->dead; i++) {
			if (!redis_durable(v->discards[i].mark)) {
				v->discards[k++] = v->discards[i];
				continue;
			}
			struct fm_hdr h = {.type = FM_DISCARDED, .seq = v->discards[i].seq};
			if (send(v->sock, &h, sizeof h, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof h) {
				logmsg("vm %s: answering DISCARD: %s", v->id, strerror(errno));
				vm_destroy(v, "agent unreachable");
			}
		}
		if (!v->dead)
			v->ndiscards = k;
	}
}

void vm_on_sock(struct vm *vm)
{
	static _Alignas(8) unsigned char buf[FM_MSG_MAX];
	while (!vm->dead) {
		ssize_t n = recv(vm->sock, buf, sizeof buf, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0) {
			vm_destroy(vm, n == 0 ? "process detached" : "agent socket error");
			return;
		}
		struct fm_hdr *h = (struct fm_hdr *)buf;
		if ((size_t)n == sizeof *h && h->type == FM_DISCARD) {
			on_discard(vm, h);
			continue;
		}
		if ((size_t)n < sizeof *h || h->type != FM_EVICTED || h->count > FM_BATCH_MAX ||
		    (size_t)n != sizeof *h + h->count * sizeof(struct fm_evict_ent)) {
			vm_destroy(vm, "malformed message from agent");
			return;
		}
		capture(vm, h, (struct fm_evict_ent *)(h + 1));
	}
}

void deferred_retry(void)
{
	if (!ndef)
		return;
	struct deferred *list = defq;
	size_t n = ndef;
	defq = NULL;
	ndef = capdef = 0;
	for (size_t i = 0; i < n; i++) {
		struct vm *vm = vm_by_uid(list[i].uid);
		if (vm)
			vm_fault(vm, list[i].pg, list[i].t0);
	}
	free(list);
}

/* ---- attach / detach ---- */

static int ep_add(int fd, struct epref *ref, int kind, void *ptr)
{
	ref->kind = kind;
	ref->ptr = ptr;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ref};
	return epoll_ctl(M.epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* A reattach's state, read and checked in full before anything changes. */
struct adopt {
	uint64_t *map;            /* resident bitmap */
	struct fm_staged *staged; /* chosen entries: the newest per page not resident */
	unsigned char *data;      /* their contents, read from the staging memfd */
	size_t nstaged;
};

static void adopt_free(struct adopt *a)
{
	free(a->map);
	free(a->staged);
	free(a->data);
}

static bool pread_all(int fd, void *buf, size_t len, off_t off)
{
	for (size_t got = 0; got < len;) {
		ssize_t r = pread(fd, (char *)buf + got, len - got, off + (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return false;
		got += (size_t)r;
	}
	return true;
}

static int adopt_read(const struct hello *h, struct adopt *a, char *err, size_t errlen)
{
	struct fm_state st;
	uint64_t npages = h->size / PS, words = (npages + 63) / 64;
	if (!pread_all(h->statefd, &st, sizeof st, 0) || st.magic != FM_STATE_MAGIC || st.npages != npages ||
	    st.nstaged > FM_STAGING_PAGES) {
		snprintf(err, errlen, "reattach state is malformed (header)");
		return -1;
	}
	struct fm_staged *all = calloc(st.nstaged + 1, sizeof *all);
	a->map = calloc(words, sizeof *a->map);
	a->staged = calloc(st.nstaged + 1, sizeof *a->staged);
	a->data = malloc((st.nstaged + 1) * PS);
	if (!all || !a->map || !a->staged || !a->data) {
		free(all);
		snprintf(err, errlen, "out of memory for the reattach state");
		return -1;
	}
	off_t off = (off_t)sizeof st;
	if (!pread_all(h->statefd, all, st.nstaged * sizeof *all, off) ||
	    !pread_all(h->statefd, a->map, words * sizeof *a->map, off + (off_t)(st.nstaged * sizeof *all))) {
		free(all);
		snprintf(err, errlen, "reattach state is malformed (short)");
		return -1;
	}
	for (uint64_t i = 0; i < st.nstaged; i++) {
		const struct fm_staged *e = &all[i];
		if (e->page >= npages || e->slot >= FM_STAGING_PAGES) {
			free(all);
			snprintf(err, errlen, "reattach state names page %llu slot %u outside the region / staging",
				 (unsigned long long)e->page, e->slot);
			return -1;
		}
		if (a->map[e->page / 64] & (1ull << (e->page % 64)))
			continue; /* mapped now: the staged copy is older than the page */
		size_t k = 0;
		while (k < a->nstaged && a->staged[k].page != e->page)
			k++;
		a->staged[k] = *e; /* entries come oldest EVICT first: the newest wins */
		if (k == a->nstaged)
			a->nstaged++;
	}
	free(all);
	for (size_t k = 0; k < a->nstaged; k++)
		if (!pread_all(h->memfd, a->data + k * PS, PS, (off_t)a->staged[k].slot * PS)) {
			snprintf(err, errlen, "cannot read staged page %llu from the staging memfd",
				 (unsigned long long)a->staged[k].page);
			return -1;
		}
	if (wb_available() < a->nstaged) {
		snprintf(err, errlen, "no write-behind room for %zu staged pages", a->nstaged);
		return -1;
	}
	return 0;
}

/* Applies a checked reattach state (cannot fail). */
static void adopt_apply(struct vm *vm, const struct adopt *a)
{
	for (uint32_t pg = 0; pg < vm->npages; pg++) {
		struct page *p = &vm->pages[pg];
		p->flags = F_REMOTE; /* whether a key exists is unknown: delete it when dropped */
		if (a->map[pg / 64] & (1ull << (pg % 64))) {
			p->state = P_RESIDENT;
			p->tick = ++M.tick;
			lru_append(vm, pg);
			GAUGE(vm, resident_pages, 1);
			COUNT(vm, adopted_pages, 1);
		} else {
			p->state = P_UNKNOWN;
		}
	}
	for (size_t k = 0; k < a->nstaged; k++) {
		uint32_t pg = (uint32_t)a->staged[k].page;
		struct page *p = &vm->pages[pg];
		const unsigned char *data = a->data + k * PS;
		COUNT(vm, adopted_pages, 1);
		if (is_zero(data)) {
			p->state = P_ABSENT; /* its key (if any) goes, like a zero page's at capture */
			drop_remote(vm, p, pg);
			continue;
		}
		wb_reserve(1);
		p->slot = wb_take(data);
		p->state = P_QUEUED;
		redis_set(vm, pg, p->slot);
		COUNT(vm, backend_writes, 1);
		COUNT(vm, bytes_written, PS);
		GAUGE(vm, remote_pages, 1);
	}
	/* the agent rewrites no area until these writes (and the UNLINKs) are acknowledged */
	uint64_t mark = redis_durable_mark();
	for (unsigned i = 0; i < FM_AREAS; i++)
		vm->batches[i] = (struct batch){.busy = true, .captured = true, .mark = mark};
	logmsg("vm %s reattached: %lld resident pages, %zu staged pages re-written, %u pages resolved on "
	       "their first fault", vm->id, (long long)vm->c.resident_pages, a->nstaged,
	       (unsigned)(vm->npages - (uint32_t)vm->c.resident_pages - (uint32_t)a->nstaged));
	M.progress = true;
}

struct vm *vm_create(int sock, const struct hello *h, char *err, size_t errlen)
{
	for (struct vm *v = M.vms; v; v = v->next) {
		if (!v->dead && strcmp(v->id, h->id) == 0) {
			snprintf(err, errlen, "vm_id '%s' is already attached (ids name key namespaces)", h->id);
			return NULL;
		}
	}
	if (h->size == 0 || h->size % PS || h->size / PS >= NIL) {
		snprintf(err, errlen, "unsupported region size %llu", (unsigned long long)h->size);
		return NULL;
	}
	struct adopt ad = {0};
	if (h->reattach && adopt_read(h, &ad, err, errlen) < 0) {
		adopt_free(&ad);
		return NULL;
	}
	struct vm *vm = calloc(1, sizeof *vm);
	if (!vm || !(vm->pages = calloc(h->size / PS, sizeof(struct page)))) {
		free(vm);
		adopt_free(&ad);
		snprintf(err, errlen, "out of memory for %llu pages", (unsigned long long)(h->size / PS));
		return NULL;
	}
	snprintf(vm->id, sizeof vm->id, "%s", h->id);
	vm->pid = h->pid;
	vm->pidfd = h->pidfd;
	vm->sock = sock;
	vm->uffd = h->uffd;
	vm->memfd = h->memfd;
	vm->base = h->base;
	vm->size = h->size;
	vm->npages = (uint32_t)(h->size / PS);
	vm->staging_pages = FM_STAGING_PAGES;
	vm->lru_head = vm->lru_tail = NIL;
	vm->pagemap_fd = -1;
	/* a VM whose fds are not watched would hang instead of failing closed: refuse it */
	if (ep_add(sock, &vm->ep_sock, EP_VMSOCK, vm) < 0 || ep_add(h->uffd, &vm->ep_uffd, EP_UFFD, vm) < 0) {
		snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
		epoll_ctl(M.epfd, EPOLL_CTL_DEL, sock, NULL);
		free(vm->pages);
		free(vm);
		adopt_free(&ad);
		return NULL;
	}
	vm->uid = ++M.next_uid;
	uid_put(vm);
	vm->next = M.vms;
	M.vms = vm;
	logmsg("vm %s attached: pid %d, %llu pages at 0x%llx", vm->id, vm->pid,
	       (unsigned long long)vm->npages, (unsigned long long)vm->base);
	if (h->reattach) {
		vm->reattached = true;
		adopt_apply(vm, &ad);
		adopt_free(&ad);
		close(h->statefd);
		/* faults the previous monitor had read (and never answered) are raised again */
		struct uffdio_range r = {.start = vm->base, .len = vm->size};
		if (ioctl(vm->uffd, UFFDIO_WAKE, &r) < 0)
			logmsg("vm %s: UFFDIO_WAKE of the region: %s", vm->id, strerror(errno));
	}
	return vm;
}

static void send_bye(struct vm *vm, const char *why)
{
	struct {
		struct fm_hdr h;
		char why[200];
	} bye = {.h = {.type = FM_BYE}};
	snprintf(bye.why, sizeof bye.why, "%s", why);
	bye.h.count = (uint32_t)strlen(bye.why);
	send(vm->sock, &bye, sizeof bye.h + bye.h.count, MSG_DONTWAIT | MSG_NOSIGNAL);
}

void vm_bye_all(const char *why)
{
	for (struct vm *v = M.vms; v; v = v->next)
		if (!v->dead)
			send_bye(v, why);
}

void vm_destroy(struct vm *vm, const char *why)
{
	if (vm->dead)
		return;
	logmsg("vm %s detached: %s", vm->id, why);
	for (uint32_t pg = 0; pg < vm->npages; pg++) {
		struct page *p = &vm->pages[pg];
		if (p->state == P_STORED && backend_kind() == BK_DRAM)
			dram_free(p->slot);
		if (p->state == P_PREFETCH)
			pf_release(vm, p->slot);
		drop_remote(vm, p, pg);
	}
	for (unsigned a = 0; a < FM_AREAS; a++)
		if (vm->batches[a].busy && vm->batches[a].wb_reserved)
			wb_unreserve(vm->batches[a].wb_reserved);
	M.total.resident_pages -= vm->c.resident_pages;
	M.total.remote_pages -= vm->c.remote_pages;
	M.total.evicting_pages -= vm->c.evicting_pages;
	M.total.fetching_pages -= vm->c.fetching_pages;
	/* detached for good: the agent must not reattach (it would find its pages deleted) */
	send_bye(vm, why);
	free(vm->discards);
	vm->discards = NULL;
	vm->ndiscards = 0;
	/* The uffd is shared with QEMU (it keeps its own reference), so closing ours does not
	 * remove it from epoll: unregister both fds explicitly before the vm is freed. */
	epoll_ctl(M.epfd, EPOLL_CTL_DEL, vm->sock, NULL);
	epoll_ctl(M.epfd, EPOLL_CTL_DEL, vm->uffd, NULL);
	close(vm->sock);
	close(vm->uffd);
	close(vm->memfd);
	wp_forget(vm);
	close(vm->pidfd);
	free(vm->pages);
	vm->pages = NULL;
	vm->npages = 0;
	uid_del(vm);
	vm->dead = true; /* unlinked and freed by the main loop (vm_reap) */
	M.progress = true;
}

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void logmsg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "fluidmem-monitor: %s\n", buf);
}
