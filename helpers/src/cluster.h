/* cluster.h -- a small Redis Cluster client on hiredis 0.14.1 (its reader and command
 * formatter only), driven by the monitor's epoll loop.
 *
 * Slot map from CLUSTER SHARDS (CLUSTER SLOTS if that fails; slot bounds as integers or as
 * strings, as some 7.0 builds send them); per master one pipelined connection pair: the
 * write-behind connection (SET, UNLINK, WAIT) and the fetch connection (GET), so fault
 * service never queues behind bulk writes. Requests are routed by key slot (crc16.h) and
 * stay in their connection's FIFO until answered, so they can be re-sent in order (SET,
 * GET, UNLINK are idempotent):
 *   - MOVED: the slot's owner is updated, a map refresh is scheduled and the connection's
 *     unanswered requests are re-routed in their order (replies still due are skipped).
 *   - ASK: the request goes once to the importing node behind ASKING (the map is kept).
 *   - TRYAGAIN, CLUSTERDOWN, LOADING, BUSY, MASTERDOWN: back off, then resend.
 *   - connection loss: the map is refreshed from another node every REFRESH_MS and the
 *     dead master's requests move as soon as some node serves its slots (a failover);
 *     until then they wait (faults stall, counted in stalled_faults).
 *   - more than CL_REDIRECT_CAP redirects of one request, a connection silent or a slot
 *     unserved past the deadline: fail closed (log, exit 1).
 * Durability: when the cluster has replicas, a SET acknowledged by its master waits for a
 * later WAIT 1 on the same connection (one per pipeline write, so batched) to count a
 * replica before its completion is reported; a WAIT that times out is repeated (after a
 * map refresh: a master whose replicas all failed completes without one).
 * Completions go to the caller's callback with the caller's context (struct cl_op). */
#ifndef FLUIDMEM_CLUSTER_H
#define FLUIDMEM_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#define CL_REDIRECT_CAP 16

enum { CL_SET = 1, CL_GET, CL_DEL, CL_WAIT, CL_ASKING };

struct cl_op {
	uint8_t type;
	uint8_t stalled;    /* already counted as a stalled fault */
	uint8_t background; /* a GET no fault waits for (a prefetch): never a stalled fault */
	uint8_t acked;      /* a SET its master acknowledged once (cb.acked called) */
	uint16_t slot;
	uint16_t redirects;
	uint32_t nkeys;     /* CL_DEL: keys of one slot */
	char *key;          /* SET, GET (owned) */
	char **keys;        /* DEL (owned) */
	/* the caller's context, handed back untouched */
	uint64_t id, t0;
	uint32_t index, aux;
};

struct cl_callbacks {
	/* the payload of a SET (*len bytes), read each time it is (re)sent; NULL sends UNLINK
	 * of the key instead (its owner left: freeing memory beats storing it) */
	const void *(*value)(const struct cl_op *op, size_t *len);
	/* once per SET (acknowledged, and replicated when the cluster has replicas), GET (r is
	 * the reply: a string or nil) and DEL; r is NULL for a SET */
	void (*done)(const struct cl_op *op, const redisReply *r);
	/* once per SET, when a master first acknowledged it (before any WAIT); may be NULL */
	void (*acked)(const struct cl_op *op);
};

struct cl_stats {
	uint64_t moved, ask, tryagain, clusterdown, stalled_faults, conn_losses;
	uint64_t map_refreshes, wait_rounds, wait_timeouts;
	int masters, replicas;
};

/* Loads the slot map from the first answering node of "HOST:PORT[,HOST:PORT...]" (AUTH
 * with password when not NULL/empty) and connects to every master. deadline_ns: see above. */
int cl_init(const char *nodes, const char *password, uint64_t deadline_ns, const struct cl_callbacks *cb,
	    char *err, size_t errlen);
/* Queue a request; the key is owned by the cluster layer from here on. A write carries the
 * caller's sequence number wseq in .t0 (a DEL batch: its first, one per key). */
void cl_set(char *key, uint64_t id, uint32_t index, uint32_t aux, uint64_t wseq);
void cl_get(char *key, uint64_t id, uint32_t index, uint32_t aux, uint64_t t0);
/* a GET no fault waits for (prefetch): like cl_get, written out by the next cl_kick() */
void cl_get_background(char *key, uint64_t id, uint32_t index, uint32_t aux, uint64_t t0);
void cl_del(char *key, uint64_t wseq); /* batched per slot until cl_kick() */
void cl_event(void *conn, uint32_t events);
void cl_kick(void);     /* write out every pipeline (and its WAIT) */
int cl_tick(void);      /* deadlines, holds, reconnects, refreshes; ms until next, -1 none */
size_t cl_pending_writes(void);
bool cl_backpressure(void); /* a master refuses writes (-OOM/-MISCONF) */
const struct cl_stats *cl_get_stats(void);
/* {"moved":N,...} into buf; returns its length */
int cl_stats_json(char *buf, size_t n);

#endif
