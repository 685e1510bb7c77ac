/* vm.h -- the VM layer of fluidmem-monitor: the page state machine, one struct vm per
 * attached process, and what its files offer each other and the rest of the monitor:
 *   lru.c          per-VM LRU lists of resident pages, victim choice across VMs
 *   evict.c        eviction batches (EVICT/EVICTED with the agent), capture, durability of
 *                  staging areas, FM_DISCARD, EVICT deadlines
 *   fault.c        fault service: uffd events, installing pages, deferred faults, fetch
 *                  completions
 *   vm_prefetch.c  prefetch glue: the buffer pool and fetching ahead along a trend
 *                  (prefetch.c holds the pure trend/window logic)
 *   vm_attach.c    attach/detach: vm_create, vm_destroy, the uid table, FM_BYE, and the
 *                  completion callbacks registered with the backend
 *   adopt.c        reattach: reading and applying the agent's state after a monitor restart
 *
 * Page life cycle, per guest page (struct page, 20 bytes, one per page of every region):
 *
 *   ABSENT --fault--> RESIDENT (zero page)        RESIDENT --victim--> EVICTING
 *   EVICTING --agent moved it, content read--> STORED (a backend without write-behind:
 *   the page is in the store when store() returns) | QUEUED (BC_WRITE_BEHIND: the write in
 *   flight, content kept in the backend's buffer) | ABSENT (all-zero page)
 *   QUEUED --write acknowledged (on_stored)--> STORED
 *   STORED --fault--> RESIDENT (a local store: copied from it) | FETCHING (BC_REMOTE: a
 *   fetch, answered by on_fetched) --> RESIDENT
 *   QUEUED --fault--> RESIDENT (served from the write-behind buffer)
 *   any --UFFD_EVENT_REMOVE/UNMAP or FM_DISCARD--> ABSENT (remote copy deleted)
 *   UNKNOWN (after a reattach) --fault--> FETCHING --> RESIDENT (a missing key: zero page)
 *
 * The backend (backend.h) is reached only through its ops table BE; its completions come
 * back through the callbacks the VM layer registers (vm_backend_client), and only the VM
 * layer decides what they mean for a page (stale, a reattached zero page, a lost page).
 *
 * Durability (BC_WRITE_BEHIND): a staging area is reused only once the store acknowledged
 * every write issued up to its capture (BE->durable(mark)), so a page's only copy is never
 * in monitor memory alone; where each state's copies live and what each crash does:
 * ARCHITECTURE.md "Restart without loss".
 *
 * A fault on an EVICTING page waits (deferred list) until the batch's content has been
 * captured, then is served from it: never from stale data. Resident pages form one LRU
 * list per VM ordered by fault-in time (accesses to mapped pages are invisible to a
 * userfaultfd handler, as in FluidMem); victims come from the VM whose oldest page is
 * oldest, so the policy is global LRU-by-fault-time across VMs.
 *
 * Accounting invariant, at any time and per VM:
 *   zero_fills + remote_fetches = faults = resident + evicting + evictions + removed */
#ifndef FLUIDMEM_VM_H
#define FLUIDMEM_VM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "backend.h"
#include "core.h"
#include "prefetch.h"

struct hello; /* monitor.h */

#define PS FM_PAGE_SIZE
/* a per-VM counter and the monitor's sum move together */
#define GAUGE(vm, f, d) do { (vm)->c.f += (d); M.total.f += (d); } while (0)
#define COUNT(vm, f, d) do { (vm)->c.f += (d); M.total.f += (d); } while (0)

/* P_UNKNOWN: after a reattach (a restarted monitor), a page neither mapped nor staged: it is
 * in Redis or all-zero (no key); its first fault GETs it, a missing key = the zero page. */
enum pstate { P_ABSENT = 0, P_RESIDENT, P_EVICTING, P_STORED, P_QUEUED, P_FETCHING, P_UNKNOWN };
/* F_UNSURE: a FETCHING page that was P_UNKNOWN (a missing key is its zero content, not a loss) */
enum { F_REMOTE = 1, F_DROPPED = 2, F_UNSURE = 4 };
/* F_WRITE: the page's pending fault is a write (uffd_msg flags): a never-seen page is then
 * installed as a private zeroed page (UFFDIO_COPY), not the shared zero page, which the
 * write would at once replace by a second, kernel copy-on-write fault. Only a hint: both
 * give the page zero content. */
enum { F_WRITE = 8 };
/* issue 11. P_PREFETCH: a STORED page fetched ahead (GET in flight or content in the
 * prefetch buffer; slot = buffer index); a fault installs it from there. F_CLEAN: a RESIDENT
 * page installed write-protected (UFFDIO_COPY_MODE_WP) from the store's current copy, slot =
 * a hash of that content: if PAGEMAP_SCAN finds it unwritten and the hash still matches when
 * it is evicted, the store's copy is kept and nothing is written. */
enum { P_PREFETCH = 16 };
enum { F_CLEAN = 16 };

struct page {
	uint32_t prev, next; /* LRU links (RESIDENT) */
	uint32_t slot;       /* staging slot (EVICTING), backend handle (STORED without BC_REMOTE,
	                        QUEUED),
	                        fetch generation (FETCHING: a reply for an older GET is ignored) */
	uint32_t tick;       /* fault-in time, for choosing the VM to evict from */
	uint8_t state, flags;
};

struct batch {
	bool busy;      /* the area is in use: EVICT in flight, or captured and not yet durable */
	bool captured;  /* EVICTED read; the area is freed once BE->durable(mark) */
	uint64_t mark;
	uint64_t seq;
	uint64_t sent_ns; /* when the EVICT went out: the agent must answer by the EVICTED deadline */
	uint32_t n, reserved; /* room reserved in the store (BE->reserve) for pages not yet stored */
	uint32_t pages[FM_BATCH_MAX];
	uint32_t hash[FM_BATCH_MAX]; /* issue 11: F_CLEAN pages' content hash at install (wp.c) */
	struct vm *owner;             /* set while in flight (evict.c's FIFO of batches in flight) */
	struct batch *fprev, *fnext;
};

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
	uint32_t heap_idx;    /* position in lru.c's victim heap, NIL = not in it */
	struct vm *dprev, *dnext; /* evict.c's list of VMs waiting for durability */
	bool dlisted;
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

/* ---- vm_attach.c ---- */

/* Attaches a verified region (a reattach: adopts its state, adopt.c); on success the vm
 * owns sock and h's descriptors, is in M.vms and in the uid table. NULL with err set. */
struct vm *vm_create(int sock, const struct hello *h, char *err, size_t errlen);
/* Detaches vm for good: frees its stored pages and buffers, deletes its keys, sends FM_BYE,
 * closes its descriptors; marks it dead (unlinked and freed by monitor.c). Idempotent. */
void vm_destroy(struct vm *vm, const char *why);
/* FM_BYE to every attached process (a deliberate exit, e.g. failing closed on Redis: they
 * stop now instead of waiting to reattach; only a crash leaves them waiting). */
void vm_bye_all(const char *why);
/* The live VM with this uid, or NULL (departed); O(1) (a hash table of the attached VMs). */
struct vm *vm_by_uid(uint64_t uid);
/* Bytes of bookkeeping of one VM (stats meta_bytes). */
size_t vm_meta_bytes(const struct vm *vm);
/* The completion callbacks the VM layer registers with the backend (backend_init). */
extern const struct backend_client vm_backend_client;

/* ---- adopt.c ---- */

/* A reattach's state, read and checked in full before anything changes. */
struct adopt {
	uint64_t *map;            /* resident bitmap */
	struct fm_staged *staged; /* chosen entries: the newest per page not resident */
	unsigned char *data;      /* their contents, read from the staging memfd */
	size_t nstaged;
};
/* Reads and checks the agent's state memfd (h->statefd) and the staged pages it names;
 * 0, or -1 with err set (then adopt_free). Changes nothing. */
int adopt_read(const struct hello *h, struct adopt *a, char *err, size_t errlen);
/* Applies a checked state to a new vm (cannot fail): resident pages from the map, staged
 * pages re-written to the store, every other page P_UNKNOWN; every staging area waits for
 * the rewrites to be durable. */
void adopt_apply(struct vm *vm, const struct adopt *a);
void adopt_free(struct adopt *a);

/* ---- lru.c ---- */

/* Appends / removes page pg (RESIDENT) at the young end of vm's LRU list; O(1). */
void lru_append(struct vm *vm, uint32_t pg);
void lru_unlink(struct vm *vm, uint32_t pg);
/* The VM to evict from: among VMs with resident pages and a free staging area, the one
 * whose oldest resident page is oldest; NULL if none. O(1). */
struct vm *lru_victim(void);
/* vm's head page or whether it has a free staging area (or is dead) may have changed: puts
 * it in, moves it in or takes it out of the victim heap; O(log VMs). */
void lru_update(struct vm *vm);

/* ---- evict.c ---- */

/* Sends EVICT batches until the resident set is `headroom` pages below capacity (or no
 * victim, no room in the store, or the store pushes back). */
void evict_tick(void);
/* Drops a VM whose agent left an EVICT unanswered past FLUIDMEM_EVICT_TIMEOUT_MS (default
 * 10000: a frozen process must not hold capacity forever); ms until the next check, -1 none.
 * Looks only at the oldest batch in flight (a FIFO in send order; the limit is the same for
 * all, so deadlines come in that order). */
int vm_tick(void);
/* Frees staging areas and answers FM_DISCARD whose writes the store acknowledged; looks
 * only at VMs that wait for durability (durability_watch). */
void vm_durability_tick(void);
/* The agent socket is readable: EVICTED (capture) and FM_DISCARD messages. */
void vm_on_sock(struct vm *vm);
/* backend callback: the write of page pg (handle h) was acknowledged: QUEUED -> STORED. */
void vm_on_stored(void *data, uint64_t uid, uint32_t pg, uint32_t h);
/* vm has a captured batch or a discard waiting for durability: vm_durability_tick looks at
 * it (only VMs in that list are looked at; O(1)). */
void durability_watch(struct vm *vm);
/* vm leaves: out of the durability list and of the FIFO of batches in flight. */
void evict_forget(struct vm *vm);
/* Pages resident, being fetched or being evicted (what counts against the capacity). */
uint64_t used_pages(void);
/* No EVICT batch in flight. */
bool evictions_idle(void);
/* All FM_PAGE_SIZE bytes are zero. */
bool page_is_zero(const void *page);

/* ---- fault.c ---- */

/* The uffd is readable: serves faults, handles REMOVE/UNMAP. */
void vm_on_uffd(struct vm *vm);
/* Serves a fault on page pg read at t0 (or retried): installs it, starts a fetch, or
 * defers it (capacity, an EVICTING page, a state change). */
void vm_fault(struct vm *vm, uint32_t pg, uint64_t t0);
/* Retries every deferred fault once (those still blocked defer again). */
void deferred_retry(void);
/* Queues a fault for deferred_retry(). */
void defer(struct vm *vm, uint32_t pg, uint64_t t0);
/* backend callback: a fetch answered (stale ones are ignored; a reattached page's missing
 * key is its zero content; any other missing or malformed page fails the VM closed). */
void vm_on_fetched(void *data, uint64_t uid, uint32_t pg, uint32_t gen, uint64_t t0,
		   enum fetch_result res, const void *page, const char *key);
/* Installs a page (src == NULL: the zero page; wp: write-protected), returns INST_*:
 * OK installed; EXISTS something was already mapped there (woken instead); GONE the range
 * is no longer registered (being unmapped: the faulting thread is woken and retries; the
 * UNMAP event cleans the state up); REDISPATCH the page's state changed while we waited
 * for a concurrent non-cooperative event (the caller re-dispatches); FATAL. */
enum { INST_OK = 0, INST_EXISTS = 1, INST_GONE = 2, INST_REDISPATCH = -2, INST_FATAL = -1 };
int install_mode(struct vm *vm, uint32_t pg, const void *src, bool wp);
/* A page is now RESIDENT: LRU, tick, counters, fault latency. */
void place(struct vm *vm, uint32_t pg, uint64_t t0);
/* issue 11 (wp.c): a page just installed write-protected from the store's current copy is
 * clean until written; remembers the content's hash. */
void mark_clean(struct vm *vm, uint32_t pg, const void *data);
/* Pages of [start, end) were discarded (UFFD_EVENT_REMOVE/UNMAP, FM_DISCARD): they become
 * ABSENT, their stored copies and keys go; a fault waiting on one of them is deferred. */
void vm_remove(struct vm *vm, uint64_t start, uint64_t end);
/* Deletes page pg's key in the store if it has one (F_REMOTE). */
void drop_remote(struct vm *vm, struct page *p, uint32_t pg);

/* ---- vm_prefetch.c ---- */

/* A fault read from the uffd (not a retry): feeds vm's trend detector. */
void pf_note(struct vm *vm, uint32_t pg);
/* After serving a fault on pg: keeps the pages ahead of it along the trend fetched. */
void pf_issue(struct vm *vm, uint32_t pg);
/* A fault on a P_PREFETCH page: served from its buffer, or it waits for the fetch in
 * flight; INST_* as install_mode. */
int pf_fault(struct vm *vm, uint32_t pg, uint64_t t0);
/* REMOVE/UNMAP of a P_PREFETCH page: frees its buffer (a waiting fault is deferred). */
void pf_drop(struct vm *vm, uint32_t pg);
/* The VM leaves: frees the buffer of its P_PREFETCH page pg. */
void pf_forget(struct vm *vm, uint32_t pg);
/* A trend holds and a demand fetch was needed: the window shrinks. */
void pf_missed(struct vm *vm);
/* backend callback: a prefetch answered (page NULL: the key is missing or malformed). */
void vm_prefetch_reply(void *data, uint64_t uid, uint32_t pg, uint32_t idx, uint32_t gen, const void *page);
/* {"max_window","share_pct","limit","buffered","max_buffered"}: the prefetch pool (all VMs) */
void vm_prefetch_stats_json(char *buf, size_t n);

#endif
