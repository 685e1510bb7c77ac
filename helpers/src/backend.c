/* backend.c -- choosing the backend (backend.h), the settings the Redis kinds share, and
 * the shutdown drain, which works through the ops table alone.
 *
 * Keys of the Redis kinds carry a per-instance nonce, so two monitors on one Redis with
 * the same prefix and VM id never share keys; FLUIDMEM_KEY_NONCE sets it (a restarted
 * monitor reusing its predecessor's keys). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>

#include "backend.h"
#include "core.h"
#include "wbuf.h"

const struct backend_ops *BE;
struct redis_settings redis_cfg = {.deadline_ns = 10000ull * 1000000ull};

const char *redis_nonce(void)
{
	return redis_cfg.nonce;
}

/* FLUIDMEM_REDIS_TIMEOUT_MS, FLUIDMEM_KEY_NONCE, --key-prefix length, the write-behind pool */
static int redis_settings_init(char *err, size_t errlen)
{
	const char *t = getenv("FLUIDMEM_REDIS_TIMEOUT_MS");
	if (t && *t) {
		char *end;
		unsigned long long ms = strtoull(t, &end, 10);
		if (*end || ms < 100 || ms > 3600000) {
			snprintf(err, errlen, "FLUIDMEM_REDIS_TIMEOUT_MS must be 100..3600000 ms, got '%s'", t);
			return -1;
		}
		redis_cfg.deadline_ns = ms * 1000000ull;
	}
	char *nonce = redis_cfg.nonce;
	const char *nv = getenv("FLUIDMEM_KEY_NONCE");
	if (nv && *nv) {
		if (strlen(nv) >= sizeof redis_cfg.nonce || strspn(nv, "0123456789abcdefghijklmnopqrstuvwxyz") != strlen(nv)) {
			snprintf(err, errlen, "FLUIDMEM_KEY_NONCE must be 1..16 characters [0-9a-z]");
			return -1;
		}
		snprintf(nonce, sizeof redis_cfg.nonce, "%s", nv);
	} else {
		unsigned char rnd[8];
		if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
			snprintf(err, errlen, "getrandom: %s", strerror(errno));
			return -1;
		}
		for (int i = 0; i < 8; i++)
			snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
	}
	if (strlen(M.key_prefix) > FM_KEY_PREFIX_MAX) {
		snprintf(err, errlen, "--key-prefix is %zu bytes, at most %d allowed (keys must never be truncated)",
			 strlen(M.key_prefix), FM_KEY_PREFIX_MAX);
		return -1;
	}
	if (wbuf_init() < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

int backend_init(const char *spec, const struct backend_client *client, char *err, size_t errlen)
{
	static const struct backend_ops *const all[] = {&backend_dram, &backend_cluster, &backend_redis};
	const struct backend_ops *be = NULL;
	for (size_t i = 0; i < sizeof all / sizeof all[0] && !be; i++)
		if (all[i]->matches(spec))
			be = all[i];
	if (!be) {
		snprintf(err, errlen, "unknown backend '%s' (expected dram, redis://HOST:PORT, unix:///PATH or "
			 "redis-cluster://HOST:PORT[,HOST:PORT...])", spec);
		return -1;
	}
	if ((be->caps & BC_REMOTE) && redis_settings_init(err, errlen) < 0)
		return -1;
	BE = be;
	return be->init(spec, client, err, errlen);
}

void backend_drain(int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ull;
	BE->kick();
	while (BE->pending() && now_ns() < deadline) {
		BE->kick();
		int t = BE->tick();
		struct epoll_event evs[16];
		int n = epoll_wait(M.epfd, evs, 16, t < 0 || t > 50 ? 50 : t);
		for (int i = 0; i < n; i++) {
			struct epref *r = evs[i].data.ptr;
			if (r->kind == EP_REDIS)
				BE->event(r->ptr, evs[i].events);
		}
	}
}
