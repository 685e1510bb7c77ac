/* adopt.c -- reattach (a monitor restarted under running VMs): the VM's page states rebuilt
 * from the state its agent kept (proto.h: struct fm_state, the staged entries and the
 * resident bitmap in a memfd).
 *
 * Everything is read and checked first (adopt_read: a malformed state refuses the reattach
 * and changes nothing); then adopt_apply sets the states: mapped pages RESIDENT (in fault
 * order unknown: appended in page order), the newest staged copy of every page not mapped
 * re-written to the store (QUEUED; all-zero ones ABSENT), every other page P_UNKNOWN: in the
 * store or all-zero (no key), resolved by its first fault. Every key may exist (F_REMOTE:
 * deleted when dropped). No staging area is reused until the rewrites are durable. Only a
 * BC_REMOTE backend can be reattached to (hello.c refuses the others). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "monitor.h"

void adopt_free(struct adopt *a)
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

int adopt_read(const struct hello *h, struct adopt *a, char *err, size_t errlen)
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
	if (BE->room() < a->nstaged) {
		snprintf(err, errlen, "no write-behind room for %zu staged pages", a->nstaged);
		return -1;
	}
	return 0;
}

void adopt_apply(struct vm *vm, const struct adopt *a)
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
		if (page_is_zero(data)) {
			p->state = P_ABSENT; /* its key (if any) goes, like a zero page's at capture */
			drop_remote(vm, p, pg);
			continue;
		}
		BE->reserve(1);
		p->slot = BE->store(vm->uid, vm->id, pg, data);
		p->state = BE->caps & BC_WRITE_BEHIND ? P_QUEUED : P_STORED;
		COUNT(vm, backend_writes, 1);
		COUNT(vm, bytes_written, PS);
		GAUGE(vm, remote_pages, 1);
	}
	/* the agent rewrites no area until these writes (and the UNLINKs) are acknowledged */
	uint64_t mark = BE->mark();
	for (unsigned i = 0; i < FM_AREAS; i++)
		vm->batches[i] = (struct batch){.busy = true, .captured = true, .mark = mark};
	lru_update(vm); /* no free area until the rewrites are durable */
	durability_watch(vm);
	logmsg("vm %s reattached: %lld resident pages, %zu staged pages re-written, %u pages resolved on "
	       "their first fault", vm->id, (long long)vm->c.resident_pages, a->nstaged,
	       (unsigned)(vm->npages - (uint32_t)vm->c.resident_pages - (uint32_t)a->nstaged));
	M.progress = true;
}

