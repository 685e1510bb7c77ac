/* core.h -- what every part of fluidmem-monitor shares, the backends included: the
 * process-wide state M, the epoll references, the clock and the log (all in monitor.c).
 *
 * The monitor is one thread driven by one epoll set (monitor.c). Its layers:
 *   - the VM layer (vm.h: page state machine, LRU, eviction, fault service, prefetch glue,
 *     attach/detach and reattach) owns every struct vm;
 *   - the backend (backend.h: one ops table per store -- dram, redis, redis-cluster) keeps
 *     evicted pages and reports completions back through callbacks with the VM layer's
 *     client data; it never sees a struct vm.
 * This header names struct vm only as an opaque type (M.vms), so a backend, which includes
 * it and backend.h only, cannot reach into VM state. The rest of the monitor includes
 * monitor.h (this, vm.h, the hello and control socket). */
#ifndef FLUIDMEM_CORE_H
#define FLUIDMEM_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "proto.h"

#define NIL UINT32_MAX

struct vm;           /* vm.h */
struct backend_ops;  /* backend.h */

/* Counters of one VM (struct vm) and of all (M.total). */
struct counters {
	uint64_t faults, zero_fills, remote_fetches, evictions, backend_writes;
	uint64_t bytes_written, bytes_read, queue_hits, removed_pages;
	uint64_t adopted_pages; /* taken over at a reattach: resident (mapped) or staged pages */
	/* issue 11: prefetch (fetched ahead, served from the buffer, dropped unused) and
	 * evictions of clean pages (the store's copy is current: no write) */
	uint64_t prefetch_issued, prefetch_hits, prefetch_wasted, clean_drops;
	uint64_t write_zero_fills; /* zero fills of a write fault: a private zeroed page (F_WRITE) */
	int64_t resident_pages, remote_pages, evicting_pages, fetching_pages;
	int64_t prefetch_buffered; /* pages fetched ahead (or in flight), not yet faulted on */
	struct hist lat;
};

/* What an epoll event's data.ptr points at: the kind of descriptor and its owner. */
struct epref { int kind; void *ptr; };
enum { EP_LISTEN = 1, EP_CONTROL_LISTEN, EP_CONTROL, EP_HELLO, EP_VMSOCK, EP_UFFD, EP_REDIS, EP_SIGNAL };

struct monitor {
	int epfd;
	uint32_t fetch_gen;
	uint64_t capacity;
	struct vm *vms;
	uint32_t dead_vms;     /* destroyed (vm_destroy) and not yet freed (monitor.c) */
	uint64_t next_uid;
	uint32_t tick;
	struct counters total; /* monotonic counters incl. departed VMs; gauges are live sums */
	bool progress;         /* something happened that may unblock deferred faults */
	const char *key_prefix;
	char instance[17]; /* random per process: a reattach naming it is refused (we dropped that VM) */
};

/* The monitor's state (monitor.c). */
extern struct monitor M;

/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);
/* One line "fluidmem-monitor: ..." on stderr (at most 511 bytes of message). */
void logmsg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* realloc(), or log "out of memory" and exit(1). */
void *xrealloc(void *p, size_t n);

#define FM_KEY_PREFIX_MAX 128 /* --key-prefix bytes */
#define FM_KEY_MAX 320        /* prefix + vm id (< 128) + ":" + nonce (16) + ":" + page + NUL */
/* Smallest --capacity / resize: one access can need several pages resident at once (the
 * code page, a stack page, operands straddling page boundaries, a string copy's source and
 * destination); below this an access can thrash forever, its own pages evicted in turn. */
#define FM_CAPACITY_MIN 8

#endif
