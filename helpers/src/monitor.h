/* monitor.h -- the shared declarations of fluidmem-monitor outside the backends: the core
 * (core.h: M, clock, log, epoll references), the VM layer (vm.h), the hello (hello.c) and
 * the control socket (control.c). Backends include core.h and backend.h only. */
#ifndef FLUIDMEM_MONITOR_H
#define FLUIDMEM_MONITOR_H

#include "core.h"
#include "vm.h"

/* A hello that hello.c verified (proto.h): the region is the peer's own anonymous memory. */
struct hello {
	char id[128];
	pid_t pid;
	int pidfd, uffd, memfd;
	uint64_t base, size;
	bool reattach;
	int statefd; /* reattach: struct fm_state + staged entries + resident map (proto.h) */
};

/* hello.c */
void hello_accept(int lfd);
void hello_on_event(void *conn);
int hello_timeout_ms(void); /* ms until the next pending hello times out, -1 if none */
void hello_expire(void);

/* control.c */
void control_accept(int lfd);
void control_on_event(void *client, uint32_t events);
void control_tick(void);
int control_listen(const char *path, int type, char *err, size_t errlen);

#endif
