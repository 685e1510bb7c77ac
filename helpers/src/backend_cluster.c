/* backend_cluster.c -- the redis-cluster:// backend: page keys, write marks, and the
 * completions of the cluster client (cluster.h) handed to the caller's callbacks
 * (backend.h), the same as backend_redis.c's: a SET done releases its write-behind buffer
 * (wbuf.h) and reports on_stored, a GET reports on_fetched, a prefetch GET on_prefetched.
 * Keys carry a hash tag per 2 MiB chunk, so a VM's chunks spread over the masters and a
 * chunk's pages share a slot: "{PREFIX VMID:NONCE:CHUNK}:PAGE" (ARCHITECTURE.md, contract
 * of redis-cluster://). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "cluster.h"
#include "core.h"
#include "wbuf.h"

#define RCL_SCHEME "redis-cluster://"
#define RCL_CHUNK_PAGES 512 /* pages per hash tag: 2 MiB of 4 KiB pages share a slot */

static const struct backend_client *cl; /* the caller's callbacks */
static uint64_t wnext = 1, wlow = 1;    /* write sequence: next to assign, oldest not done */
static uint8_t *wdone;
static size_t wcap;

static void fatal(const char *what)
{
	logmsg("redis-cluster: %s; exiting", what);
	exit(1);
}

/* "{PREFIX VMID:NONCE:CHUNK}:PAGE" into out; -1 if it does not fit */
static int rcl_key(char *out, size_t n, const char *prefix, const char *vmid, const char *nonce, uint32_t pg)
{
	int k = snprintf(out, n, "{%s%s:%s:%u}:%u", prefix, vmid, nonce, pg / RCL_CHUNK_PAGES, pg);
	return k < 0 || (size_t)k >= n ? -1 : k;
}

static char *key_dup(const char *vmid, uint32_t pg)
{
	char key[FM_KEY_MAX + 16];
	if (rcl_key(key, sizeof key, M.key_prefix, vmid, redis_cfg.nonce, pg) < 0)
		fatal("a key does not fit its buffer (prefix or vm id too long)");
	char *k = strdup(key);
	if (!k)
		fatal("out of memory");
	return k;
}

/* ---- write marks: completions come back out of order across masters ----
 * Every write (SET, each key of an UNLINK) takes a sequence number; a mark is the last one
 * taken, durable once every number up to it is done. The write-behind buffer of a SET is
 * released later, after its WAIT, so a master lost meanwhile gets it again from there. */

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

static uint64_t rcl_mark(void) { return wnext - 1; }
static bool rcl_durable(uint64_t mark) { return wlow > mark; }

/* ---- cluster client callbacks (struct cl_callbacks) ---- */

static const void *value(const struct cl_op *op, size_t *len)
{
	/* (re)sent after its VM left: UNLINK instead (frees memory, allowed under -OOM) */
	if (!cl->owner_live(cl->data, op->id))
		return NULL;
	*len = FM_PAGE_SIZE;
	return wbuf_page(op->aux);
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
		wbuf_release(op->aux);
		cl->on_stored(cl->data, op->id, op->index, op->aux);
		return;
	}
	if (op->type == CL_DEL) {
		for (uint32_t i = 0; i < op->nkeys; i++)
			wseq_done(op->t0 + i);
		return;
	}
	if (op->type != CL_GET)
		return;
	bool ok = r->type == REDIS_REPLY_STRING && r->len == FM_PAGE_SIZE;
	if (op->background) { /* a prefetch: the caller checks it is still wanted */
		cl->on_prefetched(cl->data, op->id, op->index, op->aux, (uint32_t)op->t0, ok ? r->str : NULL);
		return;
	}
	enum fetch_result res = ok ? FETCH_OK : r->type == REDIS_REPLY_NIL ? FETCH_MISSING : FETCH_BAD;
	cl->on_fetched(cl->data, op->id, op->index, op->aux, op->t0, res, ok ? r->str : NULL, op->key);
}

/* ---- operations ---- */

static uint32_t rcl_store(uint64_t owner, const char *vmid, uint32_t pg, const void *page)
{
	uint32_t buf = wbuf_take(page);
	cl_set(key_dup(vmid, pg), owner, pg, buf, wseq_take());
	return buf;
}

static void rcl_fetch(uint64_t owner, const char *vmid, uint32_t pg, uint32_t gen, uint64_t t0)
{
	cl_get(key_dup(vmid, pg), owner, pg, gen, t0); /* aux carries the caller's fetch generation */
}

static void rcl_prefetch(uint64_t owner, const char *vmid, uint32_t pg, uint32_t idx, uint32_t gen)
{
	cl_get_background(key_dup(vmid, pg), owner, pg, idx, gen);
}

static void rcl_del(const char *vmid, uint32_t pg)
{
	cl_del(key_dup(vmid, pg), wseq_take());
}

static bool rcl_matches(const char *spec)
{
	return !strncmp(spec, RCL_SCHEME, strlen(RCL_SCHEME));
}

/* nodes after the scheme: "HOST:PORT[,HOST:PORT...]"; password from FLUIDMEM_REDIS_PASSWORD */
static int rcl_init(const char *spec, const struct backend_client *client, char *err, size_t errlen)
{
	cl = client;
	if (strchr(M.key_prefix, '{') || strchr(M.key_prefix, '}')) {
		snprintf(err, errlen, "--key-prefix must not contain '{' or '}' with redis-cluster:// (its keys "
			 "are hash-tagged)");
		return -1;
	}
	static const struct cl_callbacks cbs = {.value = value, .done = done, .acked = acked};
	if (cl_init(spec + strlen(RCL_SCHEME), getenv("FLUIDMEM_REDIS_PASSWORD"), redis_cfg.deadline_ns, &cbs,
		    err, errlen) < 0)
		return -1;
	logmsg("redis-cluster keys: {%s{vm id}:%s:{page/%d}}:{page} (deadline %llu ms)", M.key_prefix,
	       redis_cfg.nonce, RCL_CHUNK_PAGES, (unsigned long long)(redis_cfg.deadline_ns / 1000000ull));
	return 0;
}

const struct backend_ops backend_cluster = {
	.name = "redis-cluster", .stats_name = "redis", .where = "the cluster", .caps = BC_WRITE_BEHIND | BC_REMOTE,
	.matches = rcl_matches, .init = rcl_init,
	.room = wbuf_room, .reserve = wbuf_reserve, .unreserve = wbuf_unreserve,
	.store = rcl_store, .local = wbuf_page, .del = rcl_del,
	.mark = rcl_mark, .durable = rcl_durable, .backpressure = cl_backpressure,
	.fetch = rcl_fetch, .prefetch = rcl_prefetch, .fetch_kick = cl_kick,
	.kick = cl_kick, .event = cl_event, .tick = cl_tick, .pending = cl_pending_writes,
	.nonce = redis_nonce, .stats_json = cl_stats_json,
};
