/* crc16.h -- Redis Cluster key slots: CRC16/XMODEM of the key's hash tag, & 16383. */
#ifndef FLUIDMEM_CRC16_H
#define FLUIDMEM_CRC16_H

#include <stddef.h>
#include <stdint.h>

#define CL_SLOTS 16384

/* CRC16/XMODEM (poly 0x1021, init 0, no reflection): "123456789" -> 0x31c3. */
uint16_t crc16_xmodem(const char *buf, size_t len);

/* The slot of a key exactly as Redis's keyHashSlot(): the bytes between the first '{' and
 * the first '}' after it when that tag is not empty, else the whole key. (Not as the npm
 * package cluster-key-slot 1.1.1, which differs for "foo{}{bar}".) */
unsigned key_slot(const char *key, size_t len);

#endif
