/* wbuf.c -- the write-behind pool (see wbuf.h): a stack of free buffer indices and a count
 * of reserved ones over one page-aligned allocation.
 * A taken buffer is written once (wbuf_take) and never again until wbuf_release: the Redis
 * backend relies on that to send a SET's value from the buffer itself (backend_redis.c). */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "wbuf.h"

#define PS FM_PAGE_SIZE

static unsigned char *wb;
static uint32_t wbfree[WB_PAGES], nwbfree, wbreserved;

int wbuf_init(void)
{
	wb = aligned_alloc(PS, (size_t)WB_PAGES * PS);
	if (!wb)
		return -1;
	for (uint32_t i = WB_PAGES; i > 0; i--)
		wbfree[nwbfree++] = i - 1;
	return 0;
}

uint32_t wbuf_room(void) { return nwbfree - wbreserved; }
void wbuf_reserve(uint32_t n) { wbreserved += n; }
void wbuf_unreserve(uint32_t n) { wbreserved -= n; }
const void *wbuf_page(uint32_t b) { return wb + (size_t)b * PS; }

uint32_t wbuf_take(const void *page)
{
	uint32_t b = wbfree[--nwbfree];
	wbreserved--;
	memcpy(wb + (size_t)b * PS, page, PS);
	return b;
}

void wbuf_release(uint32_t b)
{
	wbfree[nwbfree++] = b;
}
