/* spin.c -- adaptive spin-then-block for the monitor's event loop (issue 11, item 3).
 *
 * A fault's round trip costs a wake-up of the monitor, and a Redis fetch two more; waking
 * a CPU from idle is very expensive on this class of host (~200 us vs ~10 us for a plain
 * context switch). So after a fault or a fetch the loop polls epoll without sleeping for a
 * short window, then blocks as before. The window adapts to the work: it follows twice the
 * recent gap between events (an EWMA), bounded by FLUIDMEM_SPIN_US (default 50; 0 = never
 * spin), and it is 0 when events come farther apart than that bound (spinning would only
 * burn the CPU). It is also 0 whenever the monitor shares its only CPU with an attached
 * process (its affinity allows one CPU and that CPU is in an attached process's mask):
 * there spinning only delays the vCPU that is about to fault again. The affinity check is
 * redone every second (taskset may move things) and whenever a process attaches.
 *
 * Counters (stats "spin"): polls made inside a window, polls that found work, and the
 * time spent spinning without finding work. */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "monitor.h"
#include "spin.h"

static uint64_t max_ns = 50000, window_ns, last_event, gap_ewma, next_check, checked_uid = UINT64_MAX;
static bool allowed = true;
static char why_off[160];
static uint64_t polls, hits, idle_ns, last_poll;
static bool in_poll;

void spin_init(void)
{
	const char *e = getenv("FLUIDMEM_SPIN_US");
	if (e && *e)
		max_ns = strtoull(e, NULL, 10) * 1000ull;
	if (!max_ns)
		snprintf(why_off, sizeof why_off, "FLUIDMEM_SPIN_US=0");
}

/* Whether spinning may use the monitor's CPU: not if that is the only CPU it may run on and
 * an attached process may run there too. */
static void check_placement(uint64_t now)
{
	if (now < next_check && checked_uid == M.next_uid)
		return; /* re-checked every second and whenever a process attached */
	next_check = now + 1000000000ull;
	checked_uid = M.next_uid;
	if (!max_ns) {
		allowed = false;
		return;
	}
	cpu_set_t mine;
	if (sched_getaffinity(0, sizeof mine, &mine) < 0 || CPU_COUNT(&mine) >= 2) {
		allowed = true;
		why_off[0] = 0;
		return;
	}
	for (struct vm *v = M.vms; v; v = v->next) {
		cpu_set_t theirs, both;
		if (v->dead || sched_getaffinity(v->pid, sizeof theirs, &theirs) < 0)
			continue;
		CPU_AND(&both, &mine, &theirs);
		if (CPU_COUNT(&both)) {
			allowed = false;
			snprintf(why_off, sizeof why_off, "shares its only CPU with vm %s", v->id);
			return;
		}
	}
	allowed = true;
	why_off[0] = 0;
}

void spin_note(uint64_t now)
{
	if (last_event) {
		uint64_t gap = now - last_event;
		gap_ewma = gap_ewma ? (gap_ewma * 7 + gap) / 8 : gap;
	}
	last_event = now;
	uint64_t w = 2 * gap_ewma;
	window_ns = w <= max_ns ? w : 0;
	if (window_ns && window_ns < 5000)
		window_ns = 5000; /* below a context switch there is nothing to win */
}

int spin_timeout(int timeout, uint64_t now)
{
	check_placement(now);
	in_poll = false;
	if (timeout == 0 || !allowed || !window_ns || now - last_event >= window_ns)
		return timeout;
	in_poll = true;
	last_poll = now;
	polls++;
	return 0;
}

void spin_woke(int nevents, uint64_t now)
{
	if (!in_poll)
		return;
	if (nevents > 0)
		hits++;
	else
		idle_ns += now - last_poll;
}

void spin_stats_json(char *buf, size_t n)
{
	snprintf(buf, n,
		 "{\"max_us\":%llu,\"window_us\":%.1f,\"mode\":\"%s\",\"polls\":%llu,\"hits\":%llu,\"idle_spin_ns\":%llu}",
		 (unsigned long long)(max_ns / 1000), (double)window_ns / 1000.0,
		 allowed && max_ns ? "adaptive" : why_off[0] ? why_off : "off", (unsigned long long)polls,
		 (unsigned long long)hits, (unsigned long long)idle_ns);
}
