/* vm_attach.c -- attach and detach: a verified hello becomes a struct vm (vm_create), a VM
 * leaves for good (vm_destroy), and the lookup every backend completion and deferred fault
 * makes (vm_by_uid, a hash table of the attached VMs, independent of their number).
 *
 * A VM is identified towards the backend by its uid (never reused in a process) and its id
 * (the key namespace); the completion callbacks registered with the backend
 * (vm_backend_client) live in the files of what they complete: vm_on_stored (evict.c),
 * vm_on_fetched (fault.c), vm_prefetch_reply (vm_prefetch.c). A destroyed VM stays in M.vms,
 * marked dead, until the main loop frees it (so no caller up the stack touches freed memory);
 * vm_by_uid no longer finds it. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "monitor.h"
#include "wp.h"

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


static bool owner_live(void *data, uint64_t uid)
{
	(void)data;
	return vm_by_uid(uid) != NULL;
}

const struct backend_client vm_backend_client = {
	.data = NULL, .on_stored = vm_on_stored, .on_fetched = vm_on_fetched,
	.on_prefetched = vm_prefetch_reply, .owner_live = owner_live,
};

size_t vm_meta_bytes(const struct vm *vm)
{
	return sizeof *vm + (size_t)vm->npages * sizeof(struct page);
}


static int ep_add(int fd, struct epref *ref, int kind, void *ptr)
{
	ref->kind = kind;
	ref->ptr = ptr;
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = ref};
	return epoll_ctl(M.epfd, EPOLL_CTL_ADD, fd, &ev);
}

/* A reattach's state, read and checked in full before anything changes. */
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
	vm->heap_idx = NIL;
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
		if (p->state == P_STORED && BE->release)
			BE->release(p->slot); /* a local store's copy */
		if (p->state == P_PREFETCH)
			pf_forget(vm, pg);
		drop_remote(vm, p, pg);
	}
	for (unsigned a = 0; a < FM_AREAS; a++)
		if (vm->batches[a].busy && vm->batches[a].reserved)
			BE->unreserve(vm->batches[a].reserved);
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
	vm->dead = true; /* unlinked and freed by the main loop (reap_vms) */
	M.dead_vms++;
	lru_update(vm);   /* out of the victim heap */
	evict_forget(vm); /* out of the durability list and the batches in flight */
	M.progress = true;
}

