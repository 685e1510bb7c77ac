/* hash-bench.c -- wp.c's page-content hash: the multiply-chain hash it used before issue 11's
 * cut (kept here as the baseline) against pagehash.c's CRC32C (SSE4.2 and portable), with a
 * 4 KiB memcpy for scale, ns per page in one run on the CPU the program is pinned to.
 * Also checks the CRC32C: both implementations equal a bit-at-a-time reference on random
 * pages, and a one-bit change always changes the value. Exit 1 on a mismatch.
 *   usage: hash-bench [PAGES] [ROUNDS]   (a working set of PAGES pages, default 256 = 1 MiB,
 *   so it stays in L2 as the monitor's just-read scratch page does) */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pagehash.h"

#define PS 4096u

/* the hash of wp.c before issue 11 (commit 15e9ba1), verbatim in behaviour */
static uint32_t old_hash(const void *page)
{
	const uint64_t *w = page;
	uint64_t a = 0x9e3779b97f4a7c15ull, b = 0xc2b2ae3d27d4eb4full;
	for (size_t i = 0; i < PS / 8; i += 2) {
		a = (a ^ w[i]) * 0xff51afd7ed558ccdull;
		b = (b ^ w[i + 1]) * 0xc4ceb9fe1a85ec53ull;
		a ^= a >> 29;
		b ^= b >> 31;
	}
	a ^= b * 0x9e3779b97f4a7c15ull;
	a ^= a >> 32;
	return (uint32_t)a;
}

static uint32_t ref_crc32c(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
	}
	return ~c;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static unsigned char *pages, *dst;
static size_t npages;
static volatile uint32_t sink;

static uint32_t do_memcpy(const void *p)
{
	memcpy(dst, p, PS);
	return dst[7];
}

static double bench(uint32_t (*f)(const void *), int rounds)
{
	double best = 1e30;
	for (int r = 0; r < rounds; r++) {
		uint32_t acc = 0;
		double t0 = now();
		for (size_t i = 0; i < npages; i++)
			acc += f(pages + i * PS);
		double ns = (now() - t0) / (double)npages;
		sink = acc;
		best = ns < best ? ns : best;
	}
	return best;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	npages = argc > 1 ? strtoul(argv[1], NULL, 10) : 256;
	int rounds = argc > 2 ? atoi(argv[2]) : 200;
	pages = aligned_alloc(PS, npages * PS);
	dst = aligned_alloc(PS, PS);
	srand(1);
	for (size_t i = 0; i < npages * PS; i++)
		pages[i] = (unsigned char)rand();
	/* correctness: reference, both implementations, one-bit changes, a zero page, "123456789" */
	int bad = 0;
	for (size_t i = 0; i < npages; i++) {
		const unsigned char *p = pages + i * PS;
		uint32_t r = ref_crc32c(p, PS);
		if (pagehash_crc32c(p) != r || pagehash_crc32c_portable(p) != r)
			fprintf(stderr, "page %zu: crc32c mismatch\n", i), bad = 1;
	}
	for (int k = 0; k < 4096; k++) {
		unsigned char *p = pages + (size_t)(k % npages) * PS;
		uint32_t h = pagehash_crc32c(p);
		size_t bit = (size_t)rand() % (PS * 8);
		p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (pagehash_crc32c(p) == h)
			fprintf(stderr, "one-bit change %zu not detected\n", bit), bad = 1;
		p[bit / 8] ^= (unsigned char)(1u << (bit % 8));
	}
	memset(dst, 0, PS);
	memcpy(dst, "123456789", 9);
	if (ref_crc32c(dst, 9) != 0xe3069283u) /* the CRC32C check value */
		fprintf(stderr, "reference crc32c is wrong\n"), bad = 1;
	if (pagehash_crc32c(dst) != ref_crc32c(dst, PS) || pagehash_crc32c_portable(dst) != ref_crc32c(dst, PS))
		fprintf(stderr, "sparse page mismatch\n"), bad = 1;
	/* timing: interleaved rounds of each, the median of 5 best-of-rounds figures */
	const char *names[4] = {"old-multiply-hash", "crc32c", "crc32c-portable", "memcpy-4k"};
	uint32_t (*fs[4])(const void *) = {old_hash, pagehash_crc32c, pagehash_crc32c_portable, do_memcpy};
	double res[4][5];
	for (int t = 0; t < 5; t++)
		for (int j = 0; j < 4; j++)
			res[j][t] = bench(fs[j], rounds / 5 > 0 ? rounds / 5 : 1);
	printf("cpu %d, crc32c implementation %s, %zu pages, %s\n", sched_getcpu(), pagehash_impl(), npages,
	       bad ? "CHECKS FAILED" : "checks ok (sse4.2 = portable = bitwise reference; 4096 one-bit changes detected)");
	for (int j = 0; j < 4; j++) {
		qsort(res[j], 5, sizeof res[j][0], cmp);
		printf("%-18s %8.1f ns/page (min %.1f, max %.1f of 5)\n", names[j], res[j][2], res[j][0], res[j][4]);
	}
	printf("ratio old/crc32c %.2fx\n", res[0][2] / res[1][2]);
	return bad;
}
