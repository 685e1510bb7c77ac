/* write-bench.c -- the monitor's SET path through resp_conn.c, copying the page into the
 * output buffer (as backend_redis.c did before issue 11's cut) vs borrowing it from its
 * buffer (resp_conn_append_ref + writev, as now): CPU time of this process (user + system,
 * getrusage) per SET of a 4 KiB page, pipelined in batches like an EVICT batch, against a
 * redis-server on a Unix socket. Rounds alternate the two modes in one run.
 *   usage: write-bench SOCKET [BATCH] [BATCHES] [ROUNDS]   (defaults 128 2000 6) */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "resp_conn.h"

#define PS 4096u
static size_t replies;

static void on_reply(struct resp_conn *c, redisReply *r)
{
	if (r->type == REDIS_REPLY_ERROR)
		fprintf(stderr, "error reply: %s\n", r->str), exit(1);
	replies++;
	c->nsent--;
}
static void on_lost(struct resp_conn *c, const char *why) { (void)c, fprintf(stderr, "lost: %s\n", why), exit(1); }
static void on_broken(struct resp_conn *c, const char *why) { (void)c, fprintf(stderr, "broken: %s\n", why), exit(1); }
static void on_writable(struct resp_conn *c) { resp_conn_flush(c); }
static const struct resp_conn_hooks hooks = {on_reply, on_lost, on_broken, on_writable};

static double cpu_ns(void)
{
	struct rusage u;
	getrusage(RUSAGE_SELF, &u);
	return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e9 + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) * 1e3;
}

static double wall_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return fprintf(stderr, "usage: write-bench SOCKET [BATCH] [BATCHES] [ROUNDS]\n"), 2;
	size_t batch = argc > 2 ? strtoul(argv[2], NULL, 10) : 128, batches = argc > 3 ? strtoul(argv[3], NULL, 10) : 2000;
	int rounds = argc > 4 ? atoi(argv[4]) : 6;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", argv[1]);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
		return perror("connect"), 1;
	int ep = epoll_create1(0);
	struct resp_conn c = {.name = "bench", .hooks = &hooks, .fd = -1};
	if (resp_conn_attach(&c, fd, redisReaderCreate(), ep, &c) < 0)
		return perror("attach"), 1;
	/* a pool of page buffers, as the write-behind pool */
	unsigned char *pool = aligned_alloc(PS, batch * PS);
	for (size_t i = 0; i < batch * PS; i++)
		pool[i] = (unsigned char)(i * 7 + 3);
	double res[2][64];
	for (int r = 0; r < rounds * 2; r++) {
		int ref = r % 2;
		replies = 0;
		double c0 = cpu_ns(), w0 = wall_ns();
		for (size_t b = 0; b < batches; b++) {
			for (size_t i = 0; i < batch; i++) {
				char hdr[96];
				char key[32];
				int kl = snprintf(key, sizeof key, "wb:%zu", i);
				int hl = snprintf(hdr, sizeof hdr, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%u\r\n", kl, key, PS);
				resp_conn_append(&c, hdr, (size_t)hl);
				if (ref)
					resp_conn_append_ref(&c, pool + i * PS, PS);
				else
					resp_conn_append(&c, pool + i * PS, PS);
				resp_conn_append(&c, "\r\n", 2);
				c.nsent++;
			}
			resp_conn_flush(&c);
			while (c.nsent) { /* the batch's replies: its buffers are free again */
				struct epoll_event ev[4];
				int n = epoll_wait(ep, ev, 4, -1);
				for (int k = 0; k < n; k++)
					resp_conn_event(&c, ev[k].events);
			}
		}
		double cpu = (cpu_ns() - c0) / (double)(batch * batches), wall = (wall_ns() - w0) / (double)(batch * batches);
		res[ref][r / 2] = cpu;
		printf("round %d %-4s cpu %7.1f ns/SET  wall %7.1f ns/SET\n", r / 2, ref ? "ref" : "copy", cpu, wall);
	}
	double s[2] = {0, 0};
	for (int m = 0; m < 2; m++)
		for (int r = 0; r < rounds; r++)
			s[m] += res[m][r] / rounds;
	printf("cpu %d: mean client CPU per SET: copy %.1f ns, ref %.1f ns (ref/copy %.3f)\n", sched_getcpu(), s[0], s[1],
	       s[1] / s[0]);
	return 0;
}
