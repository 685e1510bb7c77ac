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
 * it has read it, so a memfd slot is never overwritten while it is being read.
 *
 * Durability (restart without loss, Redis backend): the monitor reuses a staging area only
 * after Redis acknowledged every write issued for its batch (SETs, and UNLINKs of pages
 * that turned out all-zero), so until then the memfd holds each moved page's only copy
 * outside Redis. The agent remembers, per area, the entries of the last EVICT it executed.
 *
 *   agent -> monitor  FM_DISCARD   arg = first page, count = pages, seq = the agent's id:
 *                                  the process is about to MADV_DONTNEED/MADV_REMOVE that
 *                                  range (the library interposes madvise); the monitor drops
 *                                  the pages and their keys.
 *   monitor -> agent  FM_DISCARDED seq: the keys' deletion was acknowledged; only now does
 *                                  the real madvise run (a restarted monitor must never
 *                                  find the old content of a discarded page in Redis).
 *   monitor -> agent  FM_RELEASED  arg = area: every write of that area's batch was
 *                                  acknowledged; the agent forgets the area's entries (a
 *                                  forgotten page's newest copy may be in Redis only, so an
 *                                  old staged copy must never be resent). Sent before the
 *                                  area is reused, in order with everything else.
 *   monitor -> agent  FM_BYE       count = bytes of a reason text that follows: the monitor
 *                                  detached this process for good (shutdown, protocol
 *                                  violation, page lost); it must not reattach (exit 70).
 *
 * Reattach: when the connection hangs up without FM_BYE, the agent keeps the uffd
 * (faulting threads stay blocked) and reconnects to the same socket path for
 * FLUIDMEM_RECONNECT_TIMEOUT seconds (default 30; 0 = never), then exits 70. Its hello
 * then carries "reattach":1, the "instance" and "nonce" the previous monitor answered
 * with, and a third descriptor: a memfd holding struct fm_state, the staged entries
 * (oldest EVICT first) and the resident map (1 bit per page: mapped per /proc/self/pagemap).
 * The monitor answers {"ok":true,"instance":ID,"nonce":N,"durable":B}; a monitor refuses a
 * reattach naming its own instance (it dropped that VM), another nonce (the pages live under
 * other keys) or with the dram backend (the pages died with the old process: durable false,
 * the agent then never tries). */
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


enum { FM_EVICT = 1, FM_EVICTED = 2, FM_DISCARD = 4, FM_DISCARDED = 5, FM_BYE = 6, FM_RELEASED = 7 }; /* 3 was FM_FREE */

#define FM_STATE_MAGIC 0x31544d53464d4c46ull /* "FLMFSMT1" */
struct fm_state {
	uint64_t magic;
	uint64_t npages;  /* region pages: the resident map has npages bits, in uint64_t words */
	uint64_t nstaged; /* struct fm_staged entries right after this header */
};

struct fm_staged {
	uint64_t seq;  /* the EVICT that moved it */
	uint64_t page;
	uint32_t slot;
	uint32_t pad;
};

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
