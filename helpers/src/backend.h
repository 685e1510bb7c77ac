/* backend.h -- where evicted pages live: one interface, one file per store.
 *
 * Design (in the manner of Redis's ae.c, whose ae_epoll.c / ae_select.c implement one API):
 * a backend is a table of operations (struct backend_ops) chosen once, at start, from the
 * --backend spec (backend_init):
 *   dram                          backend_dram.c     pages in monitor memory (4 MiB chunks)
 *   redis://HOST:PORT, unix:///P  backend_redis.c    one Redis, two pipelined connections
 *   redis-cluster://HOST:PORT,..  backend_cluster.c  Redis Cluster (client in cluster.c)
 * The VM layer (vm.h) calls the store only through BE and never asks which one it is:
 * differences are capabilities (BC_*) and optional operations (NULL = not supported).
 * Completions (a write acknowledged, a fetch answered) come back through the callbacks of
 * struct backend_client, which the VM layer registers once with its own client data (like
 * ae's clientData): a backend sees a page only as (owner, vm id, page number) and opaque
 * numbers the caller hands it (a fetch generation, a prefetch buffer), never a struct vm,
 * a page state or vm_destroy(). What a completion means -- the page was removed meanwhile,
 * a missing key is a reattached zero page or a lost page -- is the VM layer's to decide.
 *
 * Handles: store() returns a handle h naming the copy the backend keeps in this process:
 * a DRAM slot (the page's only copy, until release(h)) or a write-behind buffer (until the
 * write is acknowledged: then the backend frees it itself, after on_stored). local(h) is
 * that copy's content, for a fault served without a round trip. */
#ifndef FLUIDMEM_BACKEND_H
#define FLUIDMEM_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Capabilities */
enum {
	/* store() only queues the write: the page is served from local(h) until on_stored();
	 * a staging area the page came from is reused only once durable(mark) covers it */
	BC_WRITE_BEHIND = 1,
	/* pages live outside the monitor under keys (vm id, page): a stored page is read back
	 * with fetch() (answered by on_fetched), its copy stays there after a fetch (a clean page
	 * needs no rewrite), a dropped page's key is deleted with del(), and the pages outlive
	 * the monitor process (a reattach can find them) */
	BC_REMOTE = 2,
};

/* How a fetch was answered. */
enum fetch_result {
	FETCH_OK,      /* page holds FM_PAGE_SIZE bytes */
	FETCH_MISSING, /* no such key */
	FETCH_BAD,     /* a value of the wrong type or length */
};

/* The caller's completion callbacks; `data` is handed back untouched on every call. */
struct backend_client {
	void *data;
	/* The write of page pg of owner (handle h from store()) was acknowledged; h is freed. */
	void (*on_stored)(void *data, uint64_t owner, uint32_t pg, uint32_t h);
	/* A fetch() answered: page is the content when res == FETCH_OK (valid during the call
	 * only); key names the page in the store, for messages. Replies to fetches the caller no
	 * longer wants come back too (gen tells them apart). */
	void (*on_fetched)(void *data, uint64_t owner, uint32_t pg, uint32_t gen, uint64_t t0,
			   enum fetch_result res, const void *page, const char *key);
	/* A prefetch() answered: page is NULL unless the key held a page. */
	void (*on_prefetched)(void *data, uint64_t owner, uint32_t pg, uint32_t idx, uint32_t gen,
			      const void *page);
	/* Whether owner is still attached: a write (re)sent for a departed owner is replaced by
	 * a delete of its key (which frees memory, and is allowed while writes are refused). */
	bool (*owner_live)(void *data, uint64_t owner);
};

struct backend_ops {
	const char *name;       /* "dram", "redis", "redis-cluster" */
	const char *stats_name; /* the stats' "backend": "dram" or "redis" (both Redis kinds) */
	const char *where;      /* the store in messages: "Redis", "the cluster" */
	unsigned caps;          /* BC_* */

	/* true if spec names this backend */
	bool (*matches)(const char *spec);
	/* Connects / allocates; 0, or -1 with err set. The client's callbacks are used from
	 * then on. The Redis kinds find their shared settings in redis_cfg (read by backend_init). */
	int (*init)(const char *spec, const struct backend_client *client, char *err, size_t errlen);

	/* ---- writes ---- */
	/* Pages that may be reserved now (UINT32_MAX: no limit). */
	uint32_t (*room)(void);
	/* Reserves n pages of room for stores to come (an EVICT batch in flight); unreserve
	 * gives back what was not stored. */
	void (*reserve)(uint32_t n);
	void (*unreserve)(uint32_t n);
	/* Stores a copy of page (consumes one reservation) and returns its handle. Without
	 * BC_WRITE_BEHIND the page is stored when this returns; with it, on_stored() follows. */
	uint32_t (*store)(uint64_t owner, const char *vmid, uint32_t pg, const void *page);
	/* The content kept in this process under handle h (see above). */
	const void *(*local)(uint32_t h);
	/* Frees a stored page's local copy (after it was installed, or when it is dropped);
	 * NULL when the backend frees its handles itself (BC_REMOTE). */
	void (*release)(uint32_t h);
	/* BC_REMOTE: deletes the key of page pg (batched; in order with the writes). */
	void (*del)(const char *vmid, uint32_t pg);
	/* A mark naming every write and delete issued so far (pending deletes are sent first);
	 * durable(mark) is true once all of them were acknowledged. Always true for dram. */
	uint64_t (*mark)(void);
	bool (*durable)(uint64_t mark);
	/* true while the store refuses writes (-OOM/-MISCONF): no new evictions until it accepts */
	bool (*backpressure)(void);

	/* ---- reads (BC_REMOTE) ---- */
	/* Fetches page pg for a waiting fault (t0: when it was read; gen: the caller's fetch
	 * generation); sent at once; answered by on_fetched(). NULL without BC_REMOTE. */
	void (*fetch)(uint64_t owner, const char *vmid, uint32_t pg, uint32_t gen, uint64_t t0);
	/* Fetches page pg ahead of its fault into the caller's buffer idx (generation gen); sent
	 * by the next fetch_kick(); answered by on_prefetched(). NULL: no prefetch. */
	void (*prefetch)(uint64_t owner, const char *vmid, uint32_t pg, uint32_t idx, uint32_t gen);
	void (*fetch_kick)(void);

	/* ---- the event loop ---- */
	/* Writes out everything queued (end of each loop iteration). */
	void (*kick)(void);
	/* An EP_REDIS descriptor's epoll events (ptr: its epref.ptr). */
	void (*event)(void *ptr, uint32_t events);
	/* Deadlines, holds, reconnects; ms until the next look, -1 none. Exits the monitor (fail
	 * closed) when the store stays silent or unreachable past FLUIDMEM_REDIS_TIMEOUT_MS. */
	int (*tick)(void);
	/* Writes and deletes not yet acknowledged (queued ones included). */
	size_t (*pending)(void);

	/* ---- introspection ---- */
	/* The key nonce ("" for dram). */
	const char *(*nonce)(void);
	/* Bytes of bookkeeping (stats meta_bytes); NULL: none counted. */
	size_t (*meta_bytes)(void);
	/* The backend's own counters as a JSON object into buf, returns its length; NULL: none. */
	int (*stats_json)(char *buf, size_t n);
};

/* The backend in use (set by backend_init). */
extern const struct backend_ops *BE;

/* Chooses the backend spec names, reads the settings the Redis kinds share and initialises
 * it with the caller's callbacks. 0, or -1 with err set (an unknown spec included). */
int backend_init(const char *spec, const struct backend_client *client, char *err, size_t errlen);

/* At shutdown: waits, at most timeout_ms, until every write and delete is acknowledged
 * (serving only the backend's descriptors meanwhile). */
void backend_drain(int timeout_ms);

/* ---- for the implementations ---- */

extern const struct backend_ops backend_dram, backend_redis, backend_cluster;

/* Settings the Redis kinds share, read by backend_init before their init(). */
struct redis_settings {
	uint64_t deadline_ns; /* FLUIDMEM_REDIS_TIMEOUT_MS (default 10000) */
	char nonce[17];       /* FLUIDMEM_KEY_NONCE, else random per process */
};
extern struct redis_settings redis_cfg;
/* redis_cfg.nonce, the nonce op of both Redis kinds */
const char *redis_nonce(void);

#endif
