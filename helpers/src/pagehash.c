/* pagehash.c -- CRC32C of one 4 KiB page, as fast as the CPU allows (wp.c's content hash).
 *
 * The value is the standard CRC32C of the page (Castagnoli polynomial, reflected, initial
 * value and final xor 0xffffffff), whichever way it is computed:
 *   - SSE4.2 (x86-64 with the CRC32 instruction, checked once at start with
 *     __builtin_cpu_supports): the page is cut into four 1 KiB quarters, each run through its
 *     own CRC32 instruction chain in the same loop. One chain is bound by the instruction's
 *     latency (3 cycles per 8 bytes); four independent chains keep the unit busy every
 *     cycle. The four partial CRCs are then joined into the CRC of the whole page exactly:
 *     the raw CRC register is linear over GF(2), so crc(A || B) = shift(crc(A), |B|) xor
 *     crc0(B), where crc0 starts from 0 and shift(c, n) is the register after n zero bytes,
 *     a fixed 32x32 bit matrix for n = 1 KiB, applied with four 256-entry tables (built at
 *     start from the byte table). Three such joins cost a dozen table loads.
 *   - elsewhere: slicing-by-8 tables, the four quarters interleaved and joined the same way
 *     (several times slower than SSE4.2; same value).
 * Because both give the same value, a hash recorded by one can be checked by the other;
 * bench/page-hash checks both against a bit-by-bit reference. */
#define _GNU_SOURCE
#include <stddef.h>
#include <string.h>

#include "pagehash.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <nmmintrin.h>
#define PAGEHASH_X86 1
#endif

#define POLY 0x82f63b78u          /* CRC32C, reflected */
#define QUARTER (PAGEHASH_BYTES / 4)

static uint32_t slice[8][256];    /* slice[0]: one byte; slice[k]: a byte k positions earlier */
static uint32_t shift_q[4][256];  /* register after QUARTER zero bytes, by byte of the register */
static int have_sse42;

/* the raw register after one zero byte */
static uint32_t zero_byte(uint32_t c)
{
	return (c >> 8) ^ slice[0][c & 0xff];
}

__attribute__((constructor)) static void pagehash_init(void)
{
	for (uint32_t b = 0; b < 256; b++) {
		uint32_t c = b;
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ POLY : c >> 1;
		slice[0][b] = c;
	}
	for (int k = 1; k < 8; k++)
		for (uint32_t b = 0; b < 256; b++)
			slice[k][b] = (slice[k - 1][b] >> 8) ^ slice[0][slice[k - 1][b] & 0xff];
	/* the shift is linear: its image of each of the 32 unit vectors, then of every byte */
	uint32_t col[32];
	for (int j = 0; j < 32; j++) {
		uint32_t c = 1u << j;
		for (unsigned i = 0; i < QUARTER; i++)
			c = zero_byte(c);
		col[j] = c;
	}
	for (int k = 0; k < 4; k++)
		for (uint32_t b = 0; b < 256; b++) {
			uint32_t v = 0;
			for (int j = 0; j < 8; j++)
				if (b >> j & 1)
					v ^= col[8 * k + j];
			shift_q[k][b] = v;
		}
#ifdef PAGEHASH_X86
	__builtin_cpu_init();
	have_sse42 = __builtin_cpu_supports("sse4.2");
#endif
}

/* the raw register c followed by QUARTER more bytes whose own raw CRC (from 0) is next */
static uint32_t join_quarter(uint32_t c, uint32_t next)
{
	return shift_q[0][c & 0xff] ^ shift_q[1][(c >> 8) & 0xff] ^ shift_q[2][(c >> 16) & 0xff] ^
	       shift_q[3][c >> 24] ^ next;
}

static uint64_t load_le64(const unsigned char *p)
{
	uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	memcpy(&w, p, 8);
#else
	for (int i = 7; i >= 0; i--)
		w = w << 8 | p[i];
#endif
	return w;
}

/* the raw register c after the 8 bytes of w (slicing-by-8) */
static uint32_t step8(uint32_t c, uint64_t w)
{
	w ^= c;
	return slice[7][w & 0xff] ^ slice[6][(w >> 8) & 0xff] ^ slice[5][(w >> 16) & 0xff] ^
	       slice[4][(w >> 24) & 0xff] ^ slice[3][(w >> 32) & 0xff] ^ slice[2][(w >> 40) & 0xff] ^
	       slice[1][(w >> 48) & 0xff] ^ slice[0][w >> 56];
}

uint32_t pagehash_crc32c_portable(const void *page)
{
	/* four quarters interleaved, as below: one chain waits on its table loads */
	const unsigned char *p = page;
	uint32_t a = 0xffffffffu, b = 0, c = 0, d = 0;
	for (size_t i = 0; i < QUARTER; i += 8) {
		a = step8(a, load_le64(p + i));
		b = step8(b, load_le64(p + QUARTER + i));
		c = step8(c, load_le64(p + 2 * QUARTER + i));
		d = step8(d, load_le64(p + 3 * QUARTER + i));
	}
	return ~join_quarter(join_quarter(join_quarter(a, b), c), d);
}

#ifdef PAGEHASH_X86
__attribute__((target("sse4.2"))) static uint32_t crc32c_sse42(const void *page)
{
	const unsigned char *p = page;
	uint64_t a = 0xffffffffu, b = 0, c = 0, d = 0;
	for (size_t i = 0; i < QUARTER; i += 8) {
		uint64_t wa, wb, wc, wd;
		memcpy(&wa, p + i, 8);
		memcpy(&wb, p + QUARTER + i, 8);
		memcpy(&wc, p + 2 * QUARTER + i, 8);
		memcpy(&wd, p + 3 * QUARTER + i, 8);
		a = _mm_crc32_u64(a, wa);
		b = _mm_crc32_u64(b, wb);
		c = _mm_crc32_u64(c, wc);
		d = _mm_crc32_u64(d, wd);
	}
	uint32_t r = join_quarter((uint32_t)a, (uint32_t)b);
	r = join_quarter(r, (uint32_t)c);
	r = join_quarter(r, (uint32_t)d);
	return ~r;
}
#endif

uint32_t pagehash_crc32c(const void *page)
{
#ifdef PAGEHASH_X86
	if (have_sse42)
		return crc32c_sse42(page);
#endif
	return pagehash_crc32c_portable(page);
}

const char *pagehash_impl(void)
{
	return have_sse42 ? "sse4.2" : "portable";
}
