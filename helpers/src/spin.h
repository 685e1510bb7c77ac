/* spin.h -- adaptive spin-then-block for the monitor's event loop (see spin.c). */
#ifndef FLUIDMEM_SPIN_H
#define FLUIDMEM_SPIN_H

#include <stddef.h>
#include <stdint.h>

/* Reads FLUIDMEM_SPIN_US (upper bound of the spin window, default 50, 0 = never spin). */
void spin_init(void);
/* A fault was read or a fetch issued at `now`: more work is likely to follow shortly. */
void spin_note(uint64_t now);
/* The epoll timeout to use: 0 inside the spin window (where spinning is allowed), else
 * `timeout` unchanged. */
int spin_timeout(int timeout, uint64_t now);
/* Called after epoll_wait returned `nevents`: counts spin polls that found work. */
void spin_woke(int nevents, uint64_t now);
/* One JSON object: {"max_us","window_us","mode","polls","hits","idle_spin_ns"}. */
void spin_stats_json(char *buf, size_t n);

#endif
