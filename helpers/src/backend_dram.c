/* backend_dram.c -- the dram backend: evicted pages in the monitor's own memory.
 *
 * Pages are copied into 4 MiB chunks; a slot index (the handle, kept by the caller) names a
 * page, freed slots go on a stack. A store is complete when it returns (no BC_WRITE_BEHIND),
 * nothing needs acknowledging (every mark is durable), room is unlimited, and the pages die
 * with the process (no BC_REMOTE: no reattach, no keys, no fetch -- a fault copies from
 * local(slot) and then release(slot)). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "core.h"

#define PS FM_PAGE_SIZE
#define DRAM_CHUNK 1024u

static unsigned char **chunks;
static uint32_t nchunks, *dfree, ndfree, capdfree;

static const void *dram_page(uint32_t s)
{
	return chunks[s / DRAM_CHUNK] + (size_t)(s % DRAM_CHUNK) * PS;
}

static uint32_t dram_store(uint64_t owner, const char *vmid, uint32_t pg, const void *page)
{
	(void)owner, (void)vmid, (void)pg;
	if (!ndfree) {
		chunks = xrealloc(chunks, (nchunks + 1) * sizeof *chunks);
		chunks[nchunks] = aligned_alloc(PS, (size_t)DRAM_CHUNK * PS);
		if (!chunks[nchunks]) {
			logmsg("out of memory (dram store)");
			exit(1);
		}
		if (capdfree < (nchunks + 1) * DRAM_CHUNK) {
			capdfree = (nchunks + 1) * DRAM_CHUNK;
			dfree = xrealloc(dfree, capdfree * sizeof *dfree);
		}
		for (uint32_t i = DRAM_CHUNK; i > 0; i--)
			dfree[ndfree++] = nchunks * DRAM_CHUNK + i - 1;
		nchunks++;
	}
	uint32_t s = dfree[--ndfree];
	memcpy((void *)dram_page(s), page, PS);
	return s;
}

static void dram_free(uint32_t s)
{
	dfree[ndfree++] = s;
}

static size_t dram_meta_bytes(void)
{
	return nchunks * sizeof *chunks + capdfree * sizeof *dfree;
}

static bool dram_matches(const char *spec) { return !strcmp(spec, "dram"); }

static int dram_init(const char *spec, const struct backend_client *client, char *err, size_t errlen)
{
	(void)spec, (void)client, (void)err, (void)errlen;
	return 0;
}

static uint32_t dram_room(void) { return UINT32_MAX; }
static void dram_reserve(uint32_t n) { (void)n; }
static uint64_t dram_mark(void) { return 0; }
static bool dram_durable(uint64_t mark) { (void)mark; return true; }
static bool dram_backpressure(void) { return false; }
static void dram_kick(void) {}
static int dram_tick(void) { return -1; }
static size_t dram_pending(void) { return 0; }
static const char *dram_nonce(void) { return ""; }

const struct backend_ops backend_dram = {
	.name = "dram", .stats_name = "dram", .where = "the dram store", .caps = 0,
	.matches = dram_matches, .init = dram_init,
	.room = dram_room, .reserve = dram_reserve, .unreserve = dram_reserve,
	.store = dram_store, .local = dram_page, .release = dram_free,
	.mark = dram_mark, .durable = dram_durable, .backpressure = dram_backpressure,
	.kick = dram_kick, .tick = dram_tick, .pending = dram_pending,
	.nonce = dram_nonce, .meta_bytes = dram_meta_bytes,
};
