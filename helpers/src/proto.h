/* proto.h -- the wire protocol between the attach library (inside QEMU) and the monitor.
 *
 * One SOCK_SEQPACKET connection per attached process. The first message, attach ->
 * monitor, is a JSON object describing the region ({vm_id,pid,base,size,page_size,
 * staging_pages,features}, at most FM_HELLO_MAX bytes) carrying two descriptors as
 * SCM_RIGHTS: the region's userfaultfd, then the staging memfd (a tmpfs file of
 * FM_STAGING_PAGES pages: the agent writes staged pages into it, the monitor pread()s them).
 * The monitor trusts none of it: the peer is whoever SO_PEERCRED says (a "pid" that
 * differs is refused), the first fd must be a userfaultfd, the second a regular tmpfs
 * file, and [base, base+size) must be private anonymous writable memory of that peer
 * (its /proc/PID/maps). It answers {"ok":true} or {"ok":false,"error":"..."}.
 * After that both sides exchange fixed binary records (struct fm_hdr + payload):
 *
 *   monitor -> agent  FM_EVICT   count entries, arg = staging area: move guest page
 *                                `page` into private staging slot `slot` with UFFDIO_MOVE
 *                                (on a second userfaultfd that only registers staging),
 *                                copy it into memfd page `slot`, free the private slot.
 *   agent -> monitor  FM_EVICTED the same entries, `status` = 0 (moved and copied),
 *                                ENOENT (hole: the page was not mapped) or another errno.
 *                                `page` and `slot` must be the ones sent, or the monitor
 *                                drops the VM (protocol violation).
 *
 * The monitor reads staged pages from the memfd with pread(), never from the attached
 * process's memory: it needs no ptrace rights and cannot fault on anyone's userfaultfd.
 * The agent handles messages strictly in order and the monitor reuses an area only after
 * it has read it, so a memfd slot is never overwritten while it is being read. */
#ifndef FLUIDMEM_PROTO_H
#define FLUIDMEM_PROTO_H

#include <stdint.h>

#define FM_PAGE_SIZE 4096u
#define FM_BATCH_MAX 128u          /* pages per EVICT message */
#define FM_AREAS 4u                /* staging areas of FM_BATCH_MAX slots each */
#define FM_STAGING_PAGES (FM_BATCH_MAX * FM_AREAS)
#define FM_HELLO_MAX 1024          /* bytes; a longer hello is refused */
#define FM_HELLO_TIMEOUT_MS 5000   /* a connection that sends no hello by then is closed */
#define FM_MAX_ATTACHED 64         /* attached processes per monitor */
#define FM_MAX_PENDING_HELLOS 64   /* connections waiting for their hello */
#define FM_REGION_MAX (1ull << 38) /* bytes per attached region (256 GiB) */
#define FM_EXIT_CODE 70            /* attached process exit status when the monitor is lost */

enum { FM_EVICT = 1, FM_EVICTED = 2 }; /* 3 was FM_FREE (the agent frees its own slots now) */

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
