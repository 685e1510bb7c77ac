/* wp.h -- clean-page tracking (see wp.c). */
#ifndef FLUIDMEM_WP_H
#define FLUIDMEM_WP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vm;

/* Whether pages of this VM are installed write-protected and scanned before eviction; the
 * first call checks (opens /proc/PID/pagemap, probes PAGEMAP_SCAN and WP_ASYNC) and logs
 * why not. */
bool wp_on(struct vm *vm);
/* Turns tracking off for this VM (e.g. UFFDIO_COPY_MODE_WP refused). */
void wp_disable(struct vm *vm, const char *why);
/* The VM leaves: closes its pagemap fd. */
void wp_forget(struct vm *vm);
/* 32-bit hash of one page's content (its CRC32C; see wp.c for why 32 bits suffice). */
uint32_t wp_hash(const void *page);
/* Before an EVICT: clears F_CLEAN on every page of the batch the kernel reports written
 * (or on all of them if the scan fails or tracking is off). */
void wp_scan_batch(struct vm *vm, const uint32_t *pages, uint32_t n);
/* At capture: the content still hashes to the value recorded at install. */
bool wp_still_clean(const void *data, uint32_t hash_at_install);
/* {"vms_on","vms_off","last","scans","scan_errors","scanned_written"} */
void wp_stats_json(char *buf, size_t n);

#endif
