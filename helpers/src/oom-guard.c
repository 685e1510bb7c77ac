/* oom-guard.c -- fluidlab-oom-guard: keeps a cgroup v1 memory cgroup's OOM stalls from
 * killing a benchmark that still has free swap.
 *
 *   fluidlab-oom-guard CGROUP_DIR
 *
 * Why. A host swap arm runs the benchmark in a memory cgroup whose limit is the resident
 * size (experiment/host-run.ts). On this kernel (6.18, classic LRU, cgroup v1) the
 * benchmark's own charge in the swap-in path sometimes fails to reclaim anything 16 times
 * in a row while the swap device is two-thirds free, and the memcg OOM killer ends the run
 * (zram and loop devices alike; CI lost two of three swap arms in one run; here 1 of 10 and
 * 6 of 12 runs under CPU load, small samples). Caught in the act (oom_kill_disable=1), the
 * stalled cgroup held 4096 pages, all on the active list; a limit shrink written from
 * another process reclaimed 1 MiB at once, and raising the limit back let the benchmark go
 * on. That is what this helper does. Under load (two busy loops, 30 runs of pmbench 64 MiB
 * in 16 MiB over zram) 4 stalls began, and each ended after 46-64 attempts (0.95-1.3 s):
 * shrinks from outside fail too for about a second. A suspect, not confirmed: this host
 * runs a DAMON paddr pageout scheme (kdamond) whose quota window is 1000 ms, and pages it
 * has isolated to page out are on no LRU list that the cgroup's reclaim could scan.
 *
 * What. It sets memory.oom_control's oom_kill_disable to 1 (a charge from a user fault
 * that fails then waits instead of killing), asks for OOM notifications (an eventfd
 * registered in cgroup.event_control), prints "ready" and watches under_oom, on each
 * notification and every 100 ms (every 20 ms during a stall). A stall begins when
 * under_oom reads 1; each attempt writes LIMIT - STEP to memory.limit_in_bytes (the kernel
 * reclaims STEP in this process's context) and then LIMIT again (raising a limit wakes
 * the stalled tasks; a shrink that fails, EBUSY, changes no limit: the next attempt comes
 * 20 ms later, on a changed LRU). A stall ends when the cgroup's tasks complete a page fault (minflt + majflt of
 * the pids in cgroup.procs: faults are counted only when they succeed). It prints
 *   stall N                      a stall began
 *   rescue N attempts=A us=T     stall N ended after A attempts, T us after it began
 * The limit the benchmark runs under is LIMIT except for those attempts (a few ms each).
 * Charges outside user faults (page cache from syscalls, kernel memory) do not wait with
 * oom_kill_disable set: they fail with ENOMEM and the guard never sees them; swap arms run
 * anonymous-memory benchmarks, whose charges are user faults.
 *
 * Fail closed. A stall with no fault completed for 2 s of attempts (e.g. the swap device
 * is full) is a true OOM: the guard writes oom_kill_disable=0 (which wakes the waiters),
 * so the kernel's OOM killer ends it: a run is killed, never hung; it prints
 * "gave-up ..." and exits 3. Every exit after arming disarms first: SIGTERM, SIGINT,
 * SIGHUP or SIGPIPE print "rescues N stalls M" and exit 0; an error exits 2. The
 * orchestrator (host/oom-guard.ts) disarms too when the guard dies any other way.
 *
 * Exit status: 0 after a signal, 2 usage, set-up or run-time error (one line on stderr
 * saying what and where), 3 gave up. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#define STEP_BYTES (1ull << 20) /* what one attempt reclaims: 256 pages */
#define GIVE_UP_US 2000000     /* a stall's attempts may go this long without a fault done */
#define ATTEMPT_GAP_US 20000   /* between two attempts in one stall */

static char dir[PATH_MAX];
static int armed;

/* Writes `value` to DIR/file; returns 0 or -1 with errno set. */
static int put(const char *file, const char *value)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, value, strlen(value));
	int e = errno;
	close(fd);
	errno = e;
	return n < 0 ? -1 : 0;
}

/* Turns the kernel's OOM killer back on (which also wakes the waiters); says so when it
 * cannot. Idempotent. */
static void disarm(void)
{
	if (!armed)
		return;
	for (int i = 0; i < 3; i++) {
		if (put("memory.oom_control", "0") == 0) {
			armed = 0;
			return;
		}
	}
	fprintf(stderr, "fluidlab-oom-guard: could not disarm %s/memory.oom_control: %s\n", dir, strerror(errno));
}

static void die(const char *what, const char *file)
{
	int e = errno;
	disarm();
	fprintf(stderr, "fluidlab-oom-guard: %s %s/%s: %s\n", what, dir, file, strerror(e));
	exit(2);
}

/* Reads DIR/file into buf (NUL-terminated); returns 0 or -1 with errno set. */
static int get(const char *file, char *buf, size_t size)
{
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/%s", dir, file);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	int e = errno;
	close(fd);
	errno = e;
	if (n < 0)
		return -1;
	buf[n] = 0;
	return 0;
}

static int under_oom(void)
{
	char buf[256];
	if (get("memory.oom_control", buf, sizeof buf) < 0)
		die("reading", "memory.oom_control");
	const char *p = strstr(buf, "under_oom ");
	return p && p[10] == '1';
}

/* Page faults completed by the cgroup's tasks (minflt + majflt of each pid in
 * cgroup.procs; the kernel counts a fault only once it succeeded, not one that failed to
 * charge). Tasks come and go, so only a change means anything: progress. */
static uint64_t faults_done(void)
{
	char procs[8192];
	if (get("cgroup.procs", procs, sizeof procs) < 0)
		die("reading", "cgroup.procs");
	uint64_t sum = 0;
	for (char *tok = strtok(procs, "\n"); tok; tok = strtok(NULL, "\n")) {
		char path[64], stat[1024];
		snprintf(path, sizeof path, "/proc/%s/stat", tok);
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue; /* gone */
		ssize_t n = read(fd, stat, sizeof stat - 1);
		close(fd);
		if (n <= 0)
			continue;
		stat[n] = 0;
		/* after "(comm) ": state ppid pgrp session tty tpgid flags minflt cminflt majflt */
		const char *p = strrchr(stat, ')');
		unsigned long long minflt, majflt;
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %llu", &minflt, &majflt) == 2)
			sum += minflt + majflt;
	}
	return sum;
}

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* One attempt: shrink by STEP (reclaim), then restore (a raise, which wakes the waiters).
 * A failed shrink (EBUSY: a reclaim pass freed nothing) leaves the limit as it was; what it
 * did free was uncharged, and uncharges wake the waiters too. */
static void attempt(unsigned long long limit)
{
	char v[32];
	snprintf(v, sizeof v, "%llu", limit - STEP_BYTES);
	if (put("memory.limit_in_bytes", v) < 0)
		return;
	snprintf(v, sizeof v, "%llu", limit);
	if (put("memory.limit_in_bytes", v) < 0)
		die("restoring the limit in", "memory.limit_in_bytes");
}

int main(int argc, char **argv)
{
	if (argc != 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: fluidlab-oom-guard CGROUP_DIR (a cgroup v1 memory cgroup)\n");
		return 2;
	}
	snprintf(dir, sizeof dir, "%s", argv[1]);

	char buf[64];
	if (get("memory.limit_in_bytes", buf, sizeof buf) < 0)
		die("reading", "memory.limit_in_bytes");
	unsigned long long limit = strtoull(buf, NULL, 10);
	if (limit <= 2 * STEP_BYTES) {
		fprintf(stderr, "fluidlab-oom-guard: %s: limit %llu bytes is too small to shrink by %llu\n", dir, limit,
			STEP_BYTES);
		return 2;
	}

	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGPIPE);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	int sfd = signalfd(-1, &sigs, SFD_CLOEXEC);
	int efd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || efd < 0) {
		fprintf(stderr, "fluidlab-oom-guard: signalfd/eventfd: %s\n", strerror(errno));
		return 2;
	}
	char path[PATH_MAX + 64];
	snprintf(path, sizeof path, "%s/memory.oom_control", dir);
	int ofd = open(path, O_RDONLY | O_CLOEXEC);
	if (ofd < 0)
		die("opening", "memory.oom_control");
	char reg[64];
	snprintf(reg, sizeof reg, "%d %d", efd, ofd);
	if (put("cgroup.event_control", reg) < 0)
		die("registering for OOM events in", "cgroup.event_control");
	if (put("memory.oom_control", "1") < 0)
		die("setting oom_kill_disable in", "memory.oom_control");
	armed = 1;

	printf("ready\n");
	fflush(stdout);
	unsigned long stalls = 0, rescues = 0, attempts = 0;
	int in_stall = 0;
	uint64_t began = 0, last_attempt = 0, faults_then = 0;
	for (;;) {
		uint64_t t = now_us();
		if (in_stall && faults_done() != faults_then) {
			/* a fault completed: the stall is over (by the guard's doing if it tried) */
			if (attempts) {
				printf("rescue %lu attempts=%lu us=%llu\n", ++rescues, attempts, (unsigned long long)(t - began));
				fflush(stdout);
			}
			in_stall = 0;
		}
		if (under_oom()) {
			if (!in_stall) {
				in_stall = 1, attempts = 0, began = t, last_attempt = 0, faults_then = faults_done();
				printf("stall %lu\n", ++stalls);
				fflush(stdout);
			} else if (attempts && t - began > GIVE_UP_US) {
				disarm();
				printf("gave-up on stall %lu after %lu attempts: no fault completed for %d ms\n", stalls,
				       attempts, GIVE_UP_US / 1000);
				fflush(stdout);
				return 3;
			}
			if (t - last_attempt >= ATTEMPT_GAP_US) {
				attempt(limit);
				attempts++, last_attempt = t;
			}
		}
		struct pollfd p[2] = { { .fd = efd, .events = POLLIN }, { .fd = sfd, .events = POLLIN } };
		if (poll(p, 2, in_stall ? ATTEMPT_GAP_US / 1000 : 100) < 0) {
			if (errno == EINTR)
				continue;
			die("poll on the OOM eventfd of", "cgroup.event_control");
		}
		if (p[1].revents) {
			disarm();
			printf("rescues %lu stalls %lu\n", rescues, stalls);
			fflush(stdout);
			return 0;
		}
		uint64_t n;
		if ((p[0].revents & POLLIN) && read(efd, &n, sizeof n) != (ssize_t)sizeof n)
			die("reading the OOM eventfd of", "cgroup.event_control");
	}
}
