/* wp.c -- clean-page tracking: evict a page whose store copy is current without writing it
 * (issue 11, item 2; Redis backend).
 *
 * A page fetched from Redis keeps its key (F_REMOTE), and fault.c installs it write-protected
 * (UFFDIO_COPY_MODE_WP) on a region the attach library registered for asynchronous
 * write-protect (UFFD_FEATURE_WP_ASYNC: a guest write is resolved inside the kernel, no
 * message, and the page counts as written from then on). Such a page is F_CLEAN and its
 * record's slot holds a 32-bit hash of the content installed (CRC32C: see wp_hash).
 *
 * Before an EVICT batch goes out, PAGEMAP_SCAN ioctls on the process's /proc/PID/pagemap
 * (PM_SCAN_CHECK_WPASYNC, category PAGE_IS_WRITTEN, one per run of nearby clean pages of
 * the batch: wp_scan_batch) name the pages written since they were installed: they lose
 * F_CLEAN. The scan
 * cannot be atomic with the agent's UFFDIO_MOVE that follows (the guest keeps running, and
 * the move does not carry the write-protect bit: checked on this kernel), so a write in
 * between is caught at capture instead: a page is dropped without a SET only if it is
 * still F_CLEAN and the hash of the captured content equals the hash at install. The scan
 * makes the common case (a page written long ago) cheap and the hash closes the window;
 * the hash alone would not do (2^-32 per changed page; here it only matters for a write
 * landing in that microsecond window, and a write restoring the same content is clean).
 *
 * Who scans: the monitor. It opens /proc/PID/pagemap itself (lazily, at the first fetched
 * page, while the process is alive per its pidfd), which needs ptrace-read access to the
 * process (same user and dumpable, or CAP_SYS_PTRACE; root here) but no change to the
 * agent protocol, and the decision to skip a write rests on the kernel's word and the
 * monitor's own hash, not on the attached process's. pagemap gives page flags only, never
 * content: the monitor still never reads an attached process's memory. Where this is not
 * available (Linux < 6.7: no PAGEMAP_SCAN; no WP_ASYNC; pagemap not openable; dram
 * backend; FLUIDMEM_CLEAN_SKIP=0) every evicted page is written as before, and stats say
 * why ("clean_tracking"). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd_compat.h"
#include "backend.h"
#include "monitor.h"
#include "pagehash.h"
#include "wp.h"

#define PS FM_PAGE_SIZE
_Static_assert(PAGEHASH_BYTES == FM_PAGE_SIZE, "wp_hash hashes whole pages");
enum { WP_UNCHECKED = -1, WP_OFF = -2 };

static char last_reason[200] = "no process checked yet";
static uint64_t vms_on, vms_off, scans, scan_errors, scanned_written;
static int enabled = -1;

static bool env_enabled(void)
{
	if (enabled < 0) {
		const char *e = getenv("FLUIDMEM_CLEAN_SKIP");
		enabled = !(e && !strcmp(e, "0"));
	}
	return enabled;
}

static void off(struct vm *vm, const char *fmt, const char *detail)
{
	snprintf(last_reason, sizeof last_reason, fmt, detail);
	if (vm->pagemap_fd >= 0)
		close(vm->pagemap_fd);
	vm->pagemap_fd = WP_OFF;
	vms_off++;
	logmsg("vm %s: clean-page tracking off (%s): evicted pages are always written", vm->id, last_reason);
}

static long scan(int fd, uint64_t start, uint64_t end, struct page_region *vec, size_t n, uint64_t cat_mask,
		 uint64_t ret_mask, uint64_t max_pages, uint64_t *walk_end)
{
	struct pm_scan_arg a = {.size = sizeof a, .flags = PM_SCAN_CHECK_WPASYNC, .start = start, .end = end,
				.vec = (uint64_t)(uintptr_t)vec, .vec_len = n, .max_pages = max_pages,
				.category_mask = cat_mask, .return_mask = ret_mask};
	long r = ioctl(fd, PAGEMAP_SCAN, &a);
	if (walk_end)
		*walk_end = a.walk_end;
	return r;
}

bool wp_on(struct vm *vm)
{
	if (vm->pagemap_fd >= 0)
		return true;
	if (vm->pagemap_fd == WP_OFF)
		return false;
	if (!env_enabled())
		return off(vm, "%s", "FLUIDMEM_CLEAN_SKIP=0"), false;
	if (!(BE->caps & BC_REMOTE)) /* a fetch consumes the store's copy: nothing to keep */
		return off(vm, "%s", "dram backend: nothing to save"), false;
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/pagemap", (int)vm->pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return off(vm, "cannot open its pagemap: %s", strerror(errno)), false;
	/* the pid named the process when we opened it only if that process still lives */
	if (syscall(SYS_pidfd_send_signal, vm->pidfd, 0, NULL, 0) < 0) {
		close(fd);
		return off(vm, "%s", "the process left"), false;
	}
	vm->pagemap_fd = fd;
	struct page_region r;
	long n = scan(fd, vm->base, vm->base + vm->size, &r, 1, 0, PAGE_IS_WPALLOWED, 1, NULL);
	if (n < 0) {
		const char *why = errno == ENOTTY || errno == EINVAL ? "kernel without PAGEMAP_SCAN (Linux >= 6.7)"
				  : errno == EPERM ? "region not registered for async write-protect (UFFD_FEATURE_WP_ASYNC)"
						   : strerror(errno);
		return off(vm, "%s", why), false;
	}
	if (n != 1 || !(r.categories & PAGE_IS_WPALLOWED))
		return off(vm, "%s", "region not registered for async write-protect (UFFD_FEATURE_WP_ASYNC)"), false;
	vms_on++;
	snprintf(last_reason, sizeof last_reason, "wp-async + PAGEMAP_SCAN");
	return true;
}

void wp_disable(struct vm *vm, const char *why)
{
	if (vm->pagemap_fd != WP_OFF)
		off(vm, "%s", why);
}

void wp_forget(struct vm *vm)
{
	if (vm->pagemap_fd >= 0)
		close(vm->pagemap_fd);
	vm->pagemap_fd = WP_OFF;
}

/* The content hash is the page's CRC32C (pagehash.c: four SSE4.2 CRC32 chains joined into
 * the exact CRC of the page, ~4x faster than the multiply chain it replaces; tables where
 * the CPU lacks SSE4.2). It only has to tell whether a page changed between install and
 * eviction, and a wrong "unchanged" would keep a stale store copy, so why 32 bits suffice:
 *   - it is the second check: PAGEMAP_SCAN already cleared F_CLEAN on every page written
 *     before the scan; the hash decides only for a write landing between the scan and the
 *     agent's move (microseconds per batch), and for those it decides exactly the content;
 *   - CRC32C is a linear code, not a mixing function: a change is missed only if its bit
 *     pattern, as a polynomial, is a multiple of the Castagnoli polynomial. Changes of one
 *     or two bits anywhere in the page and every change confined to 32 consecutive bits
 *     (one word) are always detected; any other change that does not come from an
 *     adversary knowing the polynomial is missed with probability 2^-32;
 *   - an adversary can only be the guest itself, writing crafted content into its own page
 *     in that window: it would read back its own older content, which it can do anyway;
 *   - the record's slot holds 32 bits (a 20-byte page record); 64 would cost 4-8 more bytes
 *     per tracked page to turn 2^-32 into 2^-64 on a path the scan already guards. */
uint32_t wp_hash(const void *page)
{
	return pagehash_crc32c(page);
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* Batch pages closer than this share one scan range (the pages between are walked too). */
#define SCAN_GAP 16

/* Clears F_CLEAN on the batch's pages in [from, to) that PAGEMAP_SCAN reports written (or
 * every one of them when the kernel cannot tell). sorted[]: the batch's clean pages. */
static void scan_run(struct vm *vm, const uint32_t *sorted, uint32_t n, uint32_t from, uint32_t to)
{
	static struct page_region vec[512];
	uint64_t pos = vm->base + (uint64_t)from * PS, end = vm->base + (uint64_t)to * PS;
	while (pos < end) {
		uint64_t walk_end = end;
		/* written AND present pages only (a hole also counts as "written") */
		long k = scan(vm->pagemap_fd, pos, end, vec, 512, PAGE_IS_WRITTEN | PAGE_IS_PRESENT, PAGE_IS_WRITTEN, 0,
			      &walk_end);
		scans++;
		bool blind = k < 0 || walk_end <= pos; /* nothing (more) known: all count as written */
		scan_errors += k < 0;
		for (uint32_t i = 0; i < n; i++) {
			struct page *p = &vm->pages[sorted[i]];
			uint64_t a = vm->base + (uint64_t)sorted[i] * PS;
			if (!(p->flags & F_CLEAN) || a < pos || (!blind && a >= walk_end) || a >= end)
				continue;
			bool written = blind;
			for (long j = 0; !written && j < k; j++)
				written = a >= vec[j].start && a < vec[j].end;
			if (written) {
				p->flags &= (uint8_t)~F_CLEAN;
				scanned_written++;
			}
		}
		if (blind)
			return;
		pos = walk_end;
	}
}

/* The batch's clean pages are scanned run by run (sorted, neighbours within SCAN_GAP pages
 * merged), never as one span from the lowest to the highest: victims of a random access
 * pattern lie all over a large region, and one span over them walked every written page of
 * the resident set between (seen: ~260 ioctls per 128-page batch on a 4 GiB region). Cost
 * now: at most one ioctl per run of the batch, one for a sequential batch. */
void wp_scan_batch(struct vm *vm, const uint32_t *pages, uint32_t n)
{
	uint32_t clean[FM_BATCH_MAX], m = 0;
	for (uint32_t i = 0; i < n; i++) {
		if (!(vm->pages[pages[i]].flags & F_CLEAN))
			continue;
		if (m < FM_BATCH_MAX)
			clean[m++] = pages[i];
		else /* never today (batches hold at most FM_BATCH_MAX); unscanned counts as written */
			vm->pages[pages[i]].flags &= (uint8_t)~F_CLEAN;
	}
	if (!m)
		return;
	if (vm->pagemap_fd < 0) {
		for (uint32_t i = 0; i < m; i++)
			vm->pages[clean[i]].flags &= (uint8_t)~F_CLEAN;
		return;
	}
	qsort(clean, m, sizeof clean[0], cmp_u32);
	uint32_t first = 0;
	for (uint32_t i = 1; i <= m; i++) {
		if (i < m && clean[i] - clean[i - 1] <= SCAN_GAP)
			continue;
		scan_run(vm, clean + first, i - first, clean[first], clean[i - 1] + 1);
		first = i;
	}
}

bool wp_still_clean(const void *data, uint32_t hash_at_install)
{
	return wp_hash(data) == hash_at_install;
}

void wp_stats_json(char *buf, size_t n)
{
	char q[256];
	size_t j = 0;
	for (const char *s = last_reason; *s && j < sizeof q - 2; s++)
		if (*s != '"' && *s != '\\')
			q[j++] = *s;
	q[j] = 0;
	snprintf(buf, n,
		 "{\"vms_on\":%llu,\"vms_off\":%llu,\"last\":\"%s\",\"scans\":%llu,\"scan_errors\":%llu,"
		 "\"scanned_written\":%llu}",
		 (unsigned long long)vms_on, (unsigned long long)vms_off, q, (unsigned long long)scans,
		 (unsigned long long)scan_errors, (unsigned long long)scanned_written);
}
