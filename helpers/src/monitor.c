/* monitor.c -- fluidmem-monitor: main program and event loop, and what every part shares
 * (monitor.h): the state M, the clock and the log.
 *
 *   fluidmem-monitor --socket PATH --control PATH
 *                    --backend redis://HOST:PORT|unix:///PATH|redis-cluster://HOST:PORT[,...]|dram
 *                    --capacity PAGES
 *                    [--key-prefix PREFIX]          (Redis password: FLUIDMEM_REDIS_PASSWORD)
 *
 * One thread, one epoll set: the attach listener (SOCK_SEQPACKET; each connection
 * starts with a hello carrying the userfaultfd, verified in hello.c), every VM's agent
 * socket and uffd,
 * the Redis connections, control clients and a signalfd. After each batch of events
 * the loop lets deferred faults and evictions make progress, writes out pipelined
 * Redis commands and answers control requests that were waiting. SIGTERM/SIGINT:
 * detach every VM (deleting its remote keys), wait for Redis to acknowledge, remove
 * both sockets, exit 0. After a fault the loop polls without sleeping for an
 * adaptive window (spin.c: FLUIDMEM_SPIN_US bounds it, default 50, 0 = off; never while
 * the monitor shares its only CPU with an attached process) since faults come in bursts. Prints "fluidmem-monitor: ready" once both sockets listen. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "backend.h"
#include "spin.h"
#include "monitor.h"

struct monitor M;

uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void logmsg(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "fluidmem-monitor: %s\n", buf);
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n);
	if (!q) {
		logmsg("out of memory");
		exit(1);
	}
	return q;
}

static void bye_at_exit(void)
{
	vm_bye_all("the monitor exited (failing closed; see its log)");
}

static void usage(void)
{
	fprintf(stderr, "usage: fluidmem-monitor --socket PATH --control PATH "
			"--backend redis://HOST:PORT|unix:///PATH|redis-cluster://HOST:PORT[,HOST:PORT...]|dram "
			"--capacity PAGES [--key-prefix PREFIX]\n");
	exit(2);
}

/* Frees destroyed VMs (once per loop iteration; the list is walked only when one died). */
static void reap_vms(void)
{
	for (struct vm **pp = &M.vms; *pp && M.dead_vms;) {
		struct vm *v = *pp;
		if (v->dead) {
			*pp = v->next;
			M.dead_vms--;
			free(v);
		} else {
			pp = &v->next;
		}
	}
}

/* the earlier of two epoll timeouts (-1 = none) */
static int sooner(int a, int b)
{
	return a < 0 ? b : b < 0 ? a : a < b ? a : b;
}

int main(int argc, char **argv)
{
	const char *sock_path = NULL, *ctl_path = NULL, *backend = NULL;
	long long cap = -1;
	M.key_prefix = "fluidmem:";
	static const struct option opts[] = {
		{"socket", required_argument, 0, 's'},   {"control", required_argument, 0, 'c'},
		{"backend", required_argument, 0, 'b'},  {"capacity", required_argument, 0, 'n'},
		{"key-prefix", required_argument, 0, 'k'}, {"help", no_argument, 0, 'h'},
		{0, 0, 0, 0}};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		char *end;
		switch (o) {
		case 's': sock_path = optarg; break;
		case 'c': ctl_path = optarg; break;
		case 'b': backend = optarg; break;
		case 'k': M.key_prefix = optarg; break;
		case 'n':
			cap = strtoll(optarg, &end, 10);
			if (*end || cap < FM_CAPACITY_MIN) {
				fprintf(stderr, "fluidmem-monitor: --capacity must be at least %d pages (one access can "
					"need several pages resident at once; fewer thrash forever)\n", FM_CAPACITY_MIN);
				return 2;
			}
			break;
		default: usage();
		}
	}
	if (!sock_path || !ctl_path || !backend || cap < 1 || optind != argc)
		usage();
	M.capacity = (uint64_t)cap;
	unsigned char rnd[8] = {0};
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		rnd[0] = (unsigned char)getpid(); /* only needs to differ from the previous instance */
	for (int i = 0; i < 8; i++)
		snprintf(M.instance + 2 * i, 3, "%02x", rnd[i]);
	umask(077);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stderr, NULL, _IOLBF, 0);

	M.epfd = epoll_create1(EPOLL_CLOEXEC);
	char err[512];
	if (backend_init(backend, &vm_backend_client, err, sizeof err) < 0) {
		fprintf(stderr, "fluidmem-monitor: backend %s: %s\n", backend, err);
		return 1;
	}
	int lfd = control_listen(sock_path, SOCK_SEQPACKET, err, sizeof err);
	if (lfd < 0) {
		fprintf(stderr, "fluidmem-monitor: %s\n", err);
		return 1;
	}
	int cfd = control_listen(ctl_path, SOCK_STREAM, err, sizeof err);
	if (cfd < 0) {
		fprintf(stderr, "fluidmem-monitor: %s\n", err);
		unlink(sock_path);
		return 1;
	}
	sigset_t ss;
	sigemptyset(&ss);
	sigaddset(&ss, SIGTERM);
	sigaddset(&ss, SIGINT);
	sigprocmask(SIG_BLOCK, &ss, NULL);
	int sfd = signalfd(-1, &ss, SFD_CLOEXEC | SFD_NONBLOCK);

	struct epref r_listen = {EP_LISTEN, NULL}, r_ctl = {EP_CONTROL_LISTEN, NULL}, r_sig = {EP_SIGNAL, NULL};
	struct epoll_event ev = {.events = EPOLLIN};
	int ep_rc = 0;
	ev.data.ptr = &r_listen;
	ep_rc |= epoll_ctl(M.epfd, EPOLL_CTL_ADD, lfd, &ev);
	ev.data.ptr = &r_ctl;
	ep_rc |= epoll_ctl(M.epfd, EPOLL_CTL_ADD, cfd, &ev);
	ev.data.ptr = &r_sig;
	ep_rc |= epoll_ctl(M.epfd, EPOLL_CTL_ADD, sfd, &ev);
	if (M.epfd < 0 || sfd < 0 || ep_rc < 0) {
		fprintf(stderr, "fluidmem-monitor: cannot set up the event loop: %s\n", strerror(errno));
		unlink(sock_path);
		unlink(ctl_path);
		return 1;
	}

	atexit(bye_at_exit); /* exit(1) on a fatal error detaches every VM for good */
	logmsg("backend %s, capacity %lld pages", backend, cap);
	printf("fluidmem-monitor: ready\n");
	fflush(stdout);

	/* adaptive spin-then-block after faults and fetches (spin.c; FLUIDMEM_SPIN_US) */
	spin_init();
	bool stopping = false;
	while (!stopping) {
		struct epoll_event evs[64];
		/* deadlines first: dropping a VM or resending to Redis can make progress */
		int ticks = sooner(BE->tick(), vm_tick()); /* Redis holds/reconnects, EVICTED deadlines */
		/* M.progress still set: deferred work left by the bounded rounds below, don't sleep */
		int timeout = spin_timeout(M.progress ? 0 : sooner(hello_timeout_ms(), ticks), now_ns());
		int n = epoll_wait(M.epfd, evs, 64, timeout);
		spin_woke(n, now_ns());
		if (n < 0 && errno != EINTR) {
			logmsg("epoll_wait: %s", strerror(errno));
			break;
		}
		for (int i = 0; i < n; i++) {
			struct epref *r = evs[i].data.ptr;
			switch (r->kind) {
			case EP_LISTEN: hello_accept(lfd); break;
			case EP_CONTROL_LISTEN: control_accept(cfd); break;
			case EP_CONTROL: control_on_event(r->ptr, evs[i].events); break;
			case EP_HELLO: hello_on_event(r->ptr); break;
			case EP_VMSOCK: vm_on_sock(r->ptr); break;
			case EP_UFFD: vm_on_uffd(r->ptr); spin_note(now_ns()); break;
			case EP_REDIS: BE->event(r->ptr, evs[i].events); break;
			case EP_SIGNAL: stopping = true; break;
			}
		}
		vm_durability_tick(); /* staging areas and discards whose writes Redis acknowledged */
		for (int guard = 0; M.progress && guard < 64; guard++) {
			M.progress = false;
			evict_tick();
			deferred_retry();
		}
		evict_tick();
		BE->kick();
		control_tick();
		hello_expire();
		reap_vms();
	}
	logmsg("shutting down");
	for (struct vm *v = M.vms; v; v = v->next)
		vm_destroy(v, "monitor shutting down");
	backend_drain(5000);
	reap_vms();
	unlink(sock_path);
	unlink(ctl_path);
	return 0;
}
