/* crc16.c -- CRC16/XMODEM and the Redis Cluster key slot (see crc16.h). Bitwise with a
 * table built on first use: 256 entries, no generated constants to get wrong. */
#include "crc16.h"

static uint16_t table[256];
static int ready;

static void build(void)
{
	for (unsigned i = 0; i < 256; i++) {
		uint16_t c = (uint16_t)(i << 8);
		for (int b = 0; b < 8; b++)
			c = (uint16_t)(c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1);
		table[i] = c;
	}
	ready = 1;
}

uint16_t crc16_xmodem(const char *buf, size_t len)
{
	if (!ready)
		build();
	uint16_t crc = 0;
	for (size_t i = 0; i < len; i++)
		crc = (uint16_t)((crc << 8) ^ table[((crc >> 8) ^ (unsigned char)buf[i]) & 0xff]);
	return crc;
}

unsigned key_slot(const char *key, size_t len)
{
	size_t s, e;
	for (s = 0; s < len; s++)
		if (key[s] == '{')
			break;
	if (s == len)
		return crc16_xmodem(key, len) & (CL_SLOTS - 1);
	for (e = s + 1; e < len; e++)
		if (key[e] == '}')
			break;
	if (e == len || e == s + 1) /* no '}' after the '{', or an empty tag: the whole key */
		return crc16_xmodem(key, len) & (CL_SLOTS - 1);
	return crc16_xmodem(key + s + 1, e - s - 1) & (CL_SLOTS - 1);
}
