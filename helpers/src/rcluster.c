/* rcluster.c -- the redis-cluster:// backend: page keys, and the completions of cluster.c
 * turned into page state changes (the same as the redis:// backend's in backend.c: a SET
 * done releases the write-behind buffer and makes a QUEUED page STORED, a GET places the
 * page or fails the VM closed when its key is missing). Keys carry a hash tag per 2 MiB
 * chunk, so a VM's chunks spread over the masters and a chunk's pages share a slot. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster.h"
#include "rcluster.h"

static const char *nonce;
static uint64_t wnext = 1, wlow = 1; /* write sequence: next to assign, oldest not done */
static uint8_t *wdone;
static size_t wcap;

static void fatal(const char *what)
{
	logmsg("redis-cluster: %s; exiting", what);
	exit(1);
}

int rcl_key(char *out, size_t n, const char *prefix, const char *vmid, const char *nonce_, uint32_t pg)
{
	int k = snprintf(out, n, "{%s%s:%s:%u}:%u", prefix, vmid, nonce_, pg / RCL_CHUNK_PAGES, pg);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static char *key_dup(const char *vmid, uint32_t pg)
{
	char key[FM_KEY_MAX + 16];
	if (rcl_key(key, sizeof key, M.key_prefix, vmid, nonce, pg) < 0)
		fatal("a key does not fit its buffer (prefix or vm id too long)");
	char *k = strdup(key);
	if (!k)
		fatal("out of memory");
	return k;
}

/* ---- write marks: completions come back out of order across masters ---- */

static uint64_t wseq_take(void)
{
	if (wnext - wlow == wcap) {
		size_t ncap = wcap ? wcap * 2 : 4096;
		uint8_t *n = calloc(ncap, 1);
		if (!n)
			fatal("out of memory");
		for (uint64_t s = wlow; s < wnext; s++)
			n[s % ncap] = wdone[s % wcap];
		free(wdone);
		wdone = n;
		wcap = ncap;
	}
	return wnext++;
}

static void wseq_done(uint64_t s)
{
	wdone[s % wcap] = 1;
	while (wlow < wnext && wdone[wlow % wcap])
		wdone[wlow++ % wcap] = 0;
}

uint64_t rcl_write_mark(void) { return wnext - 1; }
bool rcl_written(uint64_t mark) { return wlow > mark; }

/* ---- callbacks ---- */

static const void *value(const struct cl_op *op, size_t *len)
{
	/* (re)sent after its VM left: UNLINK instead (frees memory, allowed under -OOM) */
	if (!vm_by_uid(op->id))
		return NULL;
	*len = FM_PAGE_SIZE;
	return wb_page(op->aux);
}

/* A SET its master acknowledged: it counts for write marks (the monitor may reuse the staging
 * area; a master lost before the WAIT still has the page re-sent from its write-behind
 * buffer, which is released only by done()). */
static void acked(const struct cl_op *op)
{
	wseq_done(op->t0);
}

static void done(const struct cl_op *op, const redisReply *r)
{
	if (op->type == CL_SET) {
		wb_release(op->aux);
		redis_set_done(op->id, op->index, op->aux);
		return;
	}
	if (op->type == CL_DEL) {
		for (uint32_t i = 0; i < op->nkeys; i++)
			wseq_done(op->t0 + i);
		return;
	}
	if (op->type != CL_GET)
		return;
	if (op->background) { /* a prefetch: vm.c checks it is still wanted */
		bool ok = r->type == REDIS_REPLY_STRING && r->len == FM_PAGE_SIZE;
		vm_prefetch_reply(op->id, op->index, op->aux, (uint32_t)op->t0, ok ? r->str : NULL);
		return;
	}
	struct vm *vm = vm_by_uid(op->id);
	/* only the current fetch counts (see backend.c) */
	if (!vm || vm->pages[op->index].state != P_FETCHING || vm->pages[op->index].slot != op->aux)
		return;
	if (r->type != REDIS_REPLY_STRING || r->len != FM_PAGE_SIZE) {
		logmsg("vm %s: page %u LOST: its key %s is %s in the cluster; failing this VM closed "
		       "(its process stops rather than read a wrong page)", vm->id, op->index, op->key,
		       r->type == REDIS_REPLY_NIL ? "missing" : "of the wrong length");
		vm_destroy(vm, "page lost by the backend");
		return;
	}
	vm_place_fetched(vm, op->index, r->str, op->t0);
}

/* ---- operations ---- */

void rcl_set(struct vm *vm, uint32_t pg, uint32_t buf)
{
	cl_set(key_dup(vm->id, pg), vm->uid, pg, buf, wseq_take());
}

void rcl_get(struct vm *vm, uint32_t pg, uint64_t t0)
{
	/* aux carries the page's fetch generation */
	cl_get(key_dup(vm->id, pg), vm->uid, pg, vm->pages[pg].slot, t0);
}

bool rcl_prefetch(struct vm *vm, uint32_t pg, uint32_t idx, uint32_t gen)
{
	cl_get_background(key_dup(vm->id, pg), vm->uid, pg, idx, gen);
	return true;
}

void rcl_del(struct vm *vm, uint32_t pg)
{
	cl_del(key_dup(vm->id, pg), wseq_take());
}

int rcl_stats_json(char *buf, size_t n)
{
	return cl_stats_json(buf, n);
}

int rcl_init(const char *nodes, const char *nonce_, uint64_t deadline_ns, char *err, size_t errlen)
{
	nonce = nonce_;
	if (strchr(M.key_prefix, '{') || strchr(M.key_prefix, '}')) {
		snprintf(err, errlen, "--key-prefix must not contain '{' or '}' with redis-cluster:// (its keys "
			 "are hash-tagged)");
		return -1;
	}
	static const struct cl_callbacks cbs = {.value = value, .done = done, .acked = acked};
	return cl_init(nodes, getenv("FLUIDMEM_REDIS_PASSWORD"), deadline_ns, &cbs, err, errlen);
}
