/* wbuf.h -- the write-behind pool of the Redis backends (wbuf.c).
 *
 * A fixed pool of WB_PAGES page buffers. An evicted page's content waits in one until its
 * write is acknowledged (the page is QUEUED meanwhile; a fault on it is served from here).
 * Room is reserved per EVICT batch before the batch goes out (wbuf_reserve), so a captured
 * batch always finds its buffers; wbuf_take() consumes one reservation. */
#ifndef FLUIDMEM_WBUF_H
#define FLUIDMEM_WBUF_H

#include <stdint.h>

#define WB_PAGES 2048u

/* Allocates the pool; 0, or -1 when out of memory. */
int wbuf_init(void);
/* Free buffers not reserved. */
uint32_t wbuf_room(void);
void wbuf_reserve(uint32_t n);
void wbuf_unreserve(uint32_t n);
/* Copies page into a free buffer (consuming one reservation) and returns its index. */
uint32_t wbuf_take(const void *page);
/* The content of buffer b. */
const void *wbuf_page(uint32_t b);
/* Returns buffer b to the pool (its write was acknowledged). */
void wbuf_release(uint32_t b);

#endif
