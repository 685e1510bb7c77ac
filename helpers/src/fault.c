/* fault.c -- fault service: userfaultfd events of every attached VM, answered by installing
 * pages (the RESIDENT side of vm.h's state machine).
 *
 * drain_events() reads uffd messages; a PAGEFAULT is served by vm_fault() from the page's
 * state: UFFDIO_ZEROPAGE for a never-seen page, UFFDIO_COPY from the backend's local copy
 * (a QUEUED page's write-behind buffer, a local store's slot) or from a prefetch buffer, or
 * a fetch from a BC_REMOTE store whose answer (vm_on_fetched) installs the page. A fault
 * that cannot be served now -- the page is being evicted, the resident set is full, its
 * state changed while an install waited out a concurrent event -- is deferred and retried
 * by deferred_retry() from the main loop. REMOVE/UNMAP events (and FM_DISCARD) make pages
 * ABSENT and delete their stored copies (vm_remove). */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "monitor.h"
#include "wp.h"

/* ---- deferred faults ---- */

struct deferred { uint64_t uid; uint32_t pg; uint64_t t0; };
static struct deferred *defq;
static size_t ndef, capdef;

void defer(struct vm *vm, uint32_t pg, uint64_t t0)
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

/* ---- installing pages ---- */

void place(struct vm *vm, uint32_t pg, uint64_t t0)
{
	struct page *p = &vm->pages[pg];
	p->flags &= (uint8_t)~(F_CLEAN | F_WRITE); /* F_CLEAN: set again by mark_clean() where it applies */
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

void drop_remote(struct vm *vm, struct page *p, uint32_t pg)
{
	if ((p->flags & F_REMOTE) && BE->del) {
		BE->del(vm->id, pg);
		p->flags &= (uint8_t)~F_REMOTE;
	}
}


static void drain_events(struct vm *vm, bool defer_faults);

static void wake(struct vm *vm, uint32_t pg)
{
	struct uffdio_range r = {.start = vm->base + (uint64_t)pg * PS, .len = PS};
	ioctl(vm->uffd, UFFDIO_WAKE, &r);
}

int install_mode(struct vm *vm, uint32_t pg, const void *src, bool wp)
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

/* issue 11 (wp.c): the store's copy is kept (F_REMOTE); slot keeps the content's hash. */
void mark_clean(struct vm *vm, uint32_t pg, const void *data)
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

/* ---- fault service ---- */

/* Whether a write fault on a never-seen page gets a private zeroed page (F_WRITE; default)
 * rather than the shared zero page; FLUIDMEM_WRITE_ZERO=0 turns it off (the bench's base). */
static bool write_zero_copy(void)
{
	static int on = -1;
	if (on < 0) {
		const char *e = getenv("FLUIDMEM_WRITE_ZERO");
		on = !(e && strcmp(e, "0") == 0);
	}
	return on;
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
	case P_ABSENT: {
		static _Alignas(4096) const unsigned char zeros[PS];
		bool wz = (p->flags & F_WRITE) && write_zero_copy();
		r = install(vm, pg, wz ? zeros : NULL);
		p->flags &= (uint8_t)~F_WRITE;
		if (r == INST_REDISPATCH || r == INST_GONE)
			break;
		if (r < 0)
			goto fatal;
		COUNT(vm, zero_fills, 1);
		COUNT(vm, write_zero_fills, wz);
		place(vm, pg, t0);
		break;
	}
	case P_QUEUED:
		r = install(vm, pg, BE->local(p->slot));
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
		if (BE->caps & BC_REMOTE) {
			pf_missed(vm); /* a demand fetch (while a trend holds: the window shrinks) */
			p->state = P_FETCHING;
			p->slot = ++M.fetch_gen;
			GAUGE(vm, fetching_pages, 1);
			BE->fetch(vm->uid, vm->id, pg, p->slot, t0);
			break;
		}
		r = install(vm, pg, BE->local(p->slot));
		if (r == INST_REDISPATCH || r == INST_GONE)
			break;
		if (r < 0)
			goto fatal;
		BE->release(p->slot);
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

/* Installs the page a fetch brought (data NULL: a reattached page without a key: zero). */
static void vm_place_fetched(struct vm *vm, uint32_t pg, const void *data, uint64_t t0)
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

void vm_on_fetched(void *data, uint64_t uid, uint32_t pg, uint32_t gen, uint64_t t0,
		   enum fetch_result res, const void *page, const char *key)
{
	(void)data;
	struct vm *vm = vm_by_uid(uid);
	/* A reply to an older fetch (the page was removed, refilled, evicted and faulted again
	 * meanwhile) carries stale content: only the current fetch counts. */
	if (!vm || vm->pages[pg].state != P_FETCHING || vm->pages[pg].slot != gen)
		return;
	if (res == FETCH_MISSING && (vm->pages[pg].flags & F_UNSURE)) {
		vm_place_fetched(vm, pg, NULL, t0); /* reattached page without a key: zero */
		return;
	}
	if (res != FETCH_OK) {
		logmsg("vm %s: page %u LOST: its key %s is %s in %s; failing this VM closed "
		       "(its process stops rather than read a wrong page)", vm->id, pg, key,
		       res == FETCH_MISSING ? "missing" : "of the wrong length", BE->where);
		vm_destroy(vm, "page lost by the backend");
		return;
	}
	vm_place_fetched(vm, pg, page, t0);
}

/* ---- uffd events ---- */

void vm_remove(struct vm *vm, uint64_t start, uint64_t end)
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
			if (BE->release)
				BE->release(p->slot); /* a local store's copy */
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
		p->flags &= (uint8_t)~(F_UNSURE | F_WRITE);
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
					if ((m->arg.pagefault.flags & UFFD_PAGEFAULT_FLAG_WRITE) &&
					    vm->pages[pg].state == P_ABSENT)
						vm->pages[pg].flags |= F_WRITE;
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
				vm_remove(vm, m->arg.remove.start, m->arg.remove.end);
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

