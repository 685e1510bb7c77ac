/* proto.h -- the wire protocol between the attach library (inside QEMU) and the monitor.
 *
 * One SOCK_SEQPACKET connection per attached process. The first message, attach ->
 * monitor, is a JSON object describing the region, carrying the userfaultfd as
 * SCM_RIGHTS; the monitor answers {"ok":true} or {"ok":false,"error":"..."}.
 * After that both sides exchange fixed binary records (struct fm_hdr + payload):
 *
 *   monitor -> agent  FM_EVICT   count entries: move guest page `page` into staging
 *                                slot `slot` with UFFDIO_MOVE.
 *   agent -> monitor  FM_EVICTED the same entries, `status` = 0 (moved), ENOENT (hole:
 *                                the page was not mapped) or another errno.
 *   monitor -> agent  FM_FREE    arg = first slot, count = slots: MADV_DONTNEED them so
 *                                they can receive the next batch. No answer.
 *
 * The agent handles messages strictly in order, so a FREE always precedes the next
 * EVICT that reuses its slots. */
#ifndef FLUIDMEM_PROTO_H
#define FLUIDMEM_PROTO_H

#include <stdint.h>

#define FM_PAGE_SIZE 4096u
#define FM_BATCH_MAX 128u          /* pages per EVICT message */
#define FM_AREAS 4u                /* staging areas of FM_BATCH_MAX slots each */
#define FM_STAGING_PAGES (FM_BATCH_MAX * FM_AREAS)
#define FM_HELLO_MAX 1024
#define FM_EXIT_CODE 70            /* attached process exit status when the monitor is lost */

enum { FM_EVICT = 1, FM_EVICTED = 2, FM_FREE = 3 };

struct fm_hdr {
	uint32_t type;
	uint32_t count;
	uint64_t seq;
	uint64_t arg;
};

struct fm_evict_ent {
	uint64_t page;   /* page index within the guest region */
	uint32_t slot;   /* staging slot */
	int32_t status;  /* reply only */
};

#define FM_MSG_MAX (sizeof(struct fm_hdr) + FM_BATCH_MAX * sizeof(struct fm_evict_ent))

#endif
