/* evict.c -- eviction batches and their capture (the EVICTING part of vm.h's state machine).
 *
 * Placement never waits for eviction unless the resident set is really full: evict_tick()
 * keeps it `headroom` pages below capacity by sending the oldest pages (lru_victim) in
 * batches (FM_EVICT, at most FM_BATCH_MAX pages, one of the VM's FM_AREAS staging areas) to
 * the agent inside the attached process, which moves them into its staging area
 * (UFFDIO_MOVE) and copies them into the VM's staging memfd. When the agent answers
 * (FM_EVICTED), capture() reads the content from that memfd (pread; never from the attached
 * process's memory) and hands each page to the store (BE->store): stored at once, or queued
 * (BC_WRITE_BEHIND: QUEUED until vm_on_stored). The area is free for the next batch at once
 * without write-behind, else once BE->durable(mark) covers the batch's writes
 * (vm_durability_tick, FM_RELEASED). Room in the store is reserved per batch before it goes
 * out. FM_DISCARD (the process is about to discard pages) is answered the same way, once
 * its deletes are durable. An agent that leaves an EVICT unanswered past its deadline loses
 * its VM (vm_tick).
 *
 * Independent of the number of attached VMs (issue 11 item 5): batches in flight are kept
 * in one FIFO in send order (vm_tick looks at its head), and the VMs with captured batches
 * or discards waiting for durability in one list (vm_durability_tick walks only that). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "monitor.h"
#include "wp.h"

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


bool evictions_idle(void)
{
	return M.total.evicting_pages == 0;
}

bool page_is_zero(const void *page)
{
	const uint64_t *w = page;
	for (size_t i = 0; i < PS / 8; i++)
		if (w[i])
			return false;
	return true;
}

/* ---- batches in flight: a FIFO in send order ---- */

static struct batch *fhead, *ftail;

static void flight_add(struct vm *vm, struct batch *b)
{
	b->owner = vm;
	b->fnext = NULL;
	b->fprev = ftail;
	if (ftail)
		ftail->fnext = b;
	else
		fhead = b;
	ftail = b;
}

static void flight_del(struct batch *b)
{
	if (!b->owner)
		return;
	if (b->fprev)
		b->fprev->fnext = b->fnext;
	else
		fhead = b->fnext;
	if (b->fnext)
		b->fnext->fprev = b->fprev;
	else
		ftail = b->fprev;
	b->owner = NULL;
	b->fprev = b->fnext = NULL;
}

/* ---- VMs waiting for durability ---- */

static struct vm *dhead;

void durability_watch(struct vm *vm)
{
	if (vm->dlisted)
		return;
	vm->dlisted = true;
	vm->dprev = NULL;
	vm->dnext = dhead;
	if (dhead)
		dhead->dprev = vm;
	dhead = vm;
}

static void durability_unwatch(struct vm *vm)
{
	if (!vm->dlisted)
		return;
	if (vm->dprev)
		vm->dprev->dnext = vm->dnext;
	else
		dhead = vm->dnext;
	if (vm->dnext)
		vm->dnext->dprev = vm->dprev;
	vm->dlisted = false;
	vm->dprev = vm->dnext = NULL;
}

void evict_forget(struct vm *vm)
{
	durability_unwatch(vm);
	for (unsigned a = 0; a < FM_AREAS; a++)
		flight_del(&vm->batches[a]);
}

/* Sends one EVICT of vm's k oldest pages in a free staging area (reserving room for them). */
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
	flight_add(vm, b);
	b->seq = ++vm->next_seq;
	b->n = k;
	BE->reserve(k);
	b->reserved = k;
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
	if (BE->backpressure())
		return; /* the store refuses writes: evictions stall, faults wait for capacity */
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
		struct vm *vm = lru_victim();
		if (!vm)
			return;
		uint64_t k = need;
		if (k > FM_BATCH_MAX)
			k = FM_BATCH_MAX;
		if (k > (uint64_t)vm->c.resident_pages)
			k = (uint64_t)vm->c.resident_pages;
		if (k > BE->room())
			k = BE->room();
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
	uint64_t now = now_ns();
	while (fhead) {
		struct batch *b = fhead;
		struct vm *v = b->owner;
		if (now - b->sent_ns <= limit_ns)
			return (int)((b->sent_ns + limit_ns - now) / 1000000ull) + 1;
		logmsg("vm %s: agent left EVICT batch %llu (%u pages) unanswered for %llu ms "
		       "(FLUIDMEM_EVICT_TIMEOUT_MS; process frozen?); dropping the VM to free its capacity",
		       v->id, (unsigned long long)b->seq, b->n, (unsigned long long)((now - b->sent_ns) / 1000000ull));
		vm_destroy(v, "EVICT unanswered past its deadline"); /* takes its batches out of the FIFO */
	}
	return -1;
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
		if (page_is_zero(data)) {
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
		p->slot = BE->store(vm->uid, vm->id, pg, data);
		b->reserved--;
		p->state = BE->caps & BC_WRITE_BEHIND ? P_QUEUED : P_STORED;
		if (BE->caps & BC_REMOTE)
			p->flags |= F_REMOTE;
		COUNT(vm, backend_writes, 1);
		COUNT(vm, bytes_written, PS);
		GAUGE(vm, remote_pages, 1);
	}
	if (b->reserved)
		BE->unreserve(b->reserved);
	b->reserved = 0;
	/* The memfd slots keep the batch's only copy outside the store until every write issued
	 * so far (this batch's writes and deletes, and older ones) is acknowledged: only then may
	 * the agent overwrite the area (vm_durability_tick). Without write-behind nothing waits. */
	b->mark = BE->mark();
	b->captured = BE->caps & BC_WRITE_BEHIND; /* released (FM_RELEASED) by vm_durability_tick */
	b->busy = b->captured;
	flight_del(b);
	if (b->captured)
		durability_watch(vm);
	lru_update(vm); /* the area may be free again */
	M.progress = true;
}

void vm_on_stored(void *data, uint64_t uid, uint32_t pg, uint32_t h)
{
	(void)data;
	struct vm *vm = vm_by_uid(uid);
	if (vm && vm->pages[pg].state == P_QUEUED && vm->pages[pg].slot == h)
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
	vm_remove(vm, vm->base + h->arg * PS, vm->base + (h->arg + h->count) * PS);
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
	vm->discards[vm->ndiscards].mark = BE->mark();
	vm->ndiscards++;
	durability_watch(vm);
	M.progress = true;
}

void vm_durability_tick(void)
{
	for (struct vm *v = dhead, *next; v; v = next) {
		next = v->dnext; /* v may leave the list (vm_destroy) */
		bool waiting = false;
		for (unsigned a = 0; a < FM_AREAS && !v->dead; a++) {
			struct batch *b = &v->batches[a];
			if (b->captured && BE->durable(b->mark)) {
				b->captured = b->busy = false;
				lru_update(v);
				M.progress = true;
				struct fm_hdr h = {.type = FM_RELEASED, .arg = a};
				if (send(v->sock, &h, sizeof h, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof h) {
					logmsg("vm %s: sending RELEASED: %s", v->id, strerror(errno));
					vm_destroy(v, "agent unreachable");
				}
			}
			waiting |= b->captured;
		}
		size_t k = 0;
		for (size_t i = 0; i < v->ndiscards && !v->dead; i++) {
			if (!BE->durable(v->discards[i].mark)) {
				v->discards[k++] = v->discards[i];
				continue;
			}
			struct fm_hdr h = {.type = FM_DISCARDED, .seq = v->discards[i].seq};
			if (send(v->sock, &h, sizeof h, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof h) {
				logmsg("vm %s: answering DISCARD: %s", v->id, strerror(errno));
				vm_destroy(v, "agent unreachable");
			}
		}
		if (!v->dead) {
			v->ndiscards = k;
			if (!waiting && !k)
				durability_unwatch(v);
		}
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

