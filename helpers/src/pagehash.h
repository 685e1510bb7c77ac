/* pagehash.h -- CRC32C of one 4 KiB page, fast (see pagehash.c). */
#ifndef FLUIDMEM_PAGEHASH_H
#define FLUIDMEM_PAGEHASH_H

#include <stdint.h>

#define PAGEHASH_BYTES 4096u

/* The CRC32C (Castagnoli; the iSCSI/ext4 CRC: initial value and final xor 0xffffffff,
 * reflected) of the PAGEHASH_BYTES bytes at page (any alignment). The same value on every
 * CPU: SSE4.2 instructions where the CPU has them, tables elsewhere. Thread-safe. */
uint32_t pagehash_crc32c(const void *page);

/* The same value computed without SSE4.2 (tables only); for tests and benchmarks. */
uint32_t pagehash_crc32c_portable(const void *page);

/* "sse4.2" or "portable": which implementation pagehash_crc32c uses on this CPU. */
const char *pagehash_impl(void);

#endif
