/* monitor.h -- shared state of fluidmem-monitor (single-threaded, epoll driven).
 *
 * Page life cycle, per guest page (struct page, 20 bytes, one per page of every region):
 *
 *   ABSENT --fault--> RESIDENT (zero page)        RESIDENT --victim--> EVICTING
 *   EVICTING --agent moved it, content read--> STORED (dram) | QUEUED (redis SET in
 *   flight, content kept in a write-behind buffer) | ABSENT (all-zero page)
 *   QUEUED --SET acknowledged--> STORED
 *   STORED --fault--> RESIDENT (dram: copy from the store) | FETCHING (redis GET) --> RESIDENT
 *   QUEUED --fault--> RESIDENT (served from the write-behind buffer)
 *   any --UFFD_EVENT_REMOVE/UNMAP or FM_DISCARD--> ABSENT (remote copy deleted)
 *   UNKNOWN (after a reattach) --fault--> FETCHING --> RESIDENT (a missing key: zero page)
 *
 * Durability (Redis): a staging area is reused only once Redis acknowledged every write
 * issued up to its capture, so a page's only copy is never in monitor memory alone; where
 * each state's copies live and what each crash does: ARCHITECTURE.md "Restart without loss".
 *
 * A fault on an EVICTING page waits (deferred list) until the batch's content has been
 * captured, then is served from it: never from stale data. Resident pages form one LRU
 * list per VM ordered by fault-in time (accesses to mapped pages are invisible to a
 * userfaultfd handler, as in FluidMem); victims come from the VM whose oldest page is
 * oldest, so the policy is global LRU-by-fault-time across VMs. */
#ifndef FLUIDMEM_MONITOR_H
#define FLUIDMEM_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "prefetch.h"
#include "proto.h"

#define NIL UINT32_MAX

/* P_UNKNOWN: after a reattach (a restarted monitor), a page neither mapped nor staged: it is
 * in Redis or all-zero (no key); its first fault GETs it, a missing key = the zero page. */
enum pstate { P_ABSENT = 0, P_RESIDENT, P_EVICTING, P_STORED, P_QUEUED, P_FETCHING, P_UNKNOWN };
/* F_UNSURE: a FETCHING page that was P_UNKNOWN (a missing key is its zero content, not a loss) */
enum { F_REMOTE = 1, F_DROPPED = 2, F_UNSURE = 4 };
/* issue 11. P_PREFETCH: a STORED page fetched ahead (GET in flight or content in the
 * prefetch buffer; slot = buffer index); a fault installs it from there. F_CLEAN: a RESIDENT
 * page installed write-protected (UFFDIO_COPY_MODE_WP) from the store's current copy, slot =
 * a hash of that content: if PAGEMAP_SCAN finds it unwritten and the hash still matches when
 * it is evicted, the store's copy is kept and nothing is written. */
enum { P_PREFETCH = 16 };
enum { F_CLEAN = 16 };

struct page {
	uint32_t prev, next; /* LRU links (RESIDENT) */
	uint32_t slot;       /* staging slot (EVICTING), dram slot (STORED, dram), wb buffer (QUEUED),
	                        fetch generation (FETCHING: a reply for an older GET is ignored) */
	uint32_t tick;       /* fault-in time, for choosing the VM to evict from */
	uint8_t state, flags;
};

struct counters {
	uint64_t faults, zero_fills, remote_fetches, evictions, backend_writes;
	uint64_t bytes_written, bytes_read, queue_hits, removed_pages;
	uint64_t adopted_pages; /* taken over at a reattach: resident (mapped) or staged pages */
	/* issue 11: prefetch (fetched ahead, served from the buffer, dropped unused) and
	 * evictions of clean pages (the store's copy is current: no write) */
	uint64_t prefetch_issued, prefetch_hits, prefetch_wasted, clean_drops;
	int64_t resident_pages, remote_pages, evicting_pages, fetching_pages;
	int64_t prefetch_buffered; /* pages fetched ahead (or in flight), not yet faulted on */
	struct hist lat;
};

struct batch {
	bool busy;      /* the area is in use: EVICT in flight, or captured and not yet durable */
	bool captured;  /* EVICTED read; the area is freed once redis_durable(mark) */
	uint64_t mark;
	uint64_t seq;
	uint64_t sent_ns; /* when the EVICT went out: the agent must answer by the EVICTED deadline */
	uint32_t n, wb_reserved;
	uint32_t pages[FM_BATCH_MAX];
	uint32_t hash[FM_BATCH_MAX]; /* issue 11: F_CLEAN pages' content hash at install (wp.c) */
};

struct epref { int kind; void *ptr; };
enum { EP_LISTEN = 1, EP_CONTROL_LISTEN, EP_CONTROL, EP_HELLO, EP_VMSOCK, EP_UFFD, EP_REDIS, EP_SIGNAL };

struct vm {
	uint64_t uid;
	char id[128];
	pid_t pid;   /* the peer's pid per SO_PEERCRED (never the hello's word) */
	int pidfd;   /* held for the VM's lifetime */
	int sock, uffd;
	int memfd;   /* staging memfd: staged pages are pread() from here (proto.h) */
	uint64_t base, size;
	uint32_t npages, staging_pages;
	struct page *pages;
	uint32_t lru_head, lru_tail;
	struct counters c;
	struct batch batches[FM_AREAS];
	uint64_t next_seq;
	struct epref ep_sock, ep_uffd;
	bool dead;
	struct pf_trend pft;  /* issue 11: recent fault pages (prefetch.c) */
	struct pf_window pfw;
	int32_t pf_delta;     /* the current trend, 0 = none */
	int pagemap_fd;       /* /proc/PID/pagemap for PAGEMAP_SCAN (clean pages), -1 = none */
	bool reattached; /* attached by a reattach hello (this monitor took over a running VM) */
	struct { uint64_t seq, mark; } *discards; /* FM_DISCARD waiting for its UNLINKs' acks */
	size_t ndiscards, capdiscards;
	struct vm *next;
};

struct monitor {
	int epfd;
	uint32_t fetch_gen;
	uint64_t capacity;
	struct vm *vms;
	uint64_t next_uid;
	uint32_t tick;
	struct counters total; /* monotonic counters incl. departed VMs; gauges are live sums */
	bool progress;         /* something happened that may unblock deferred faults */
	const char *key_prefix;
	char instance[17]; /* random per process: a reattach naming it is refused (we dropped that VM) */
};

extern struct monitor M;

uint64_t now_ns(void);
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A hello that hello.c verified (proto.h): the region is the peer's own anonymous memory. */
struct hello {
	char id[128];
	pid_t pid;
	int pidfd, uffd, memfd;
	uint64_t base, size;
	bool reattach;
	int statefd; /* reattach: struct fm_state + staged entries + resident map (proto.h) */
};

/* hello.c */
void hello_accept(int lfd);
void hello_on_event(void *conn);
int hello_timeout_ms(void); /* ms until the next pending hello times out, -1 if none */
void hello_expire(void);

/* vm.c */
/* Attaches a verified region; on success the vm owns sock and h's descriptors. */
struct vm *vm_create(int sock, const struct hello *h, char *err, size_t errlen);
void vm_destroy(struct vm *vm, const char *why);
/* FM_BYE to every attached process (a deliberate exit, e.g. failing closed on Redis: they
 * stop now instead of waiting to reattach; only a crash leaves them waiting). */
void vm_bye_all(const char *why);
/* Reattach: rebuilds a VM's page states from the agent's state memfd (resident pages from
 * its map, staged pages re-written to the store, every other page P_UNKNOWN), then wakes
 * the whole region so faults the previous monitor had read are raised again. */
int vm_adopt(struct vm *vm, int statefd, char *err, size_t errlen);
/* Frees staging areas and answers FM_DISCARD whose writes Redis acknowledged. */
void vm_durability_tick(void);
void vm_on_uffd(struct vm *vm);
void vm_on_sock(struct vm *vm);
struct vm *vm_by_uid(uint64_t uid);
void vm_fault(struct vm *vm, uint32_t pg, uint64_t t0);
void vm_place_fetched(struct vm *vm, uint32_t pg, const void *data, uint64_t t0);
/* A prefetch GET's reply (data NULL: the key is missing or malformed). */
void vm_prefetch_reply(uint64_t uid, uint32_t pg, uint32_t idx, uint32_t gen, const void *data);
/* {"max_window","share_pct","limit","buffered","max_buffered"}: the prefetch pool (all VMs) */
void vm_prefetch_stats_json(char *buf, size_t n);
void evict_tick(void);
/* Drops a VM whose agent left an EVICT unanswered past FLUIDMEM_EVICT_TIMEOUT_MS (default
 * 10000: a frozen process must not hold capacity forever); ms until the next check, -1 none. */
int vm_tick(void);
void deferred_retry(void);
uint64_t used_pages(void);
bool evictions_idle(void);
size_t vm_meta_bytes(const struct vm *vm);

/* backend.c */
enum backend_kind { BK_DRAM, BK_REDIS };
int backend_init(const char *spec, char *err, size_t errlen);
enum backend_kind backend_kind(void);
/* dram */
uint32_t dram_store(const void *page);
const void *dram_page(uint32_t slot);
void dram_free(uint32_t slot);
size_t dram_meta_bytes(void);
/* redis write-behind buffers */
uint32_t wb_available(void);
void wb_reserve(uint32_t n);
void wb_unreserve(uint32_t n);
uint32_t wb_take(const void *page); /* consumes one reservation */
const void *wb_page(uint32_t buf);
/* redis ops (replies are routed back to vm.c) */
void redis_set(struct vm *vm, uint32_t pg, uint32_t buf);
void redis_get(struct vm *vm, uint32_t pg, uint64_t t0);
/* issue 11: a prefetch GET of page pg into prefetch buffer `idx` (generation `gen`), sent by
 * the next redis_fetch_kick(); the reply goes to vm_prefetch_reply(). */
bool redis_prefetch(struct vm *vm, uint32_t pg, uint32_t idx, uint32_t gen); /* false: not supported */
void redis_fetch_kick(void);
void redis_del(struct vm *vm, uint32_t pg);
void redis_flush_dels(void);
void redis_conn_event(void *conn, uint32_t events);
void redis_kick(void);
void redis_drain(int timeout_ms);
size_t redis_pending(void);
void redis_set_done(uint64_t vm_uid, uint32_t pg, uint32_t buf);
/* Redis deadlines, holds (-LOADING, -OOM) and reconnects; ms until the next look, -1 none.
 * Exits the monitor (fail closed) when Redis stays silent or unreachable past
 * FLUIDMEM_REDIS_TIMEOUT_MS (default 10000). */
int backend_tick(void);
int backend_cluster_stats(char *buf, size_t n); /* redis-cluster:// counters as JSON; 0 otherwise */
/* Durability marks: redis_durable_mark() flushes pending UNLINKs and names every write-behind
 * request issued so far; redis_durable(mark) is true once all of them were acknowledged
 * (always true for dram, which has nothing to acknowledge). */
uint64_t redis_durable_mark(void);
const char *backend_nonce(void); /* the key nonce ("" for dram) */
bool redis_durable(uint64_t mark);
/* true while Redis refuses writes (-OOM/-MISCONF): no new evictions until it accepts */
bool redis_backpressure(void);
#define FM_KEY_PREFIX_MAX 128 /* --key-prefix bytes */
#define FM_KEY_MAX 320        /* prefix + vm id (< 128) + ":" + nonce (16) + ":" + page + NUL */
/* Smallest --capacity / resize: one access can need several pages resident at once (the
 * code page, a stack page, operands straddling page boundaries, a string copy's source and
 * destination); below this an access can thrash forever, its own pages evicted in turn. */
#define FM_CAPACITY_MIN 8

/* control.c */
void control_accept(int lfd);
void control_on_event(void *client, uint32_t events);
void control_tick(void);
int control_listen(const char *path, int type, char *err, size_t errlen);

#endif
