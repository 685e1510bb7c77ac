/**
 * Redis Cluster key slots, and the page-key format of the `redis-cluster://` backend.
 *
 * A key's slot is CRC16/XMODEM (poly 0x1021, init 0, no reflection) of its bytes, modulo
 * 16384; when the key holds a hash tag (the bytes between the first `{` and the first `}`
 * after it, if there is at least one byte between them) only the tag is hashed. This is the
 * function of Redis's cluster.c keyHashSlot(); it is written out here so the orchestrator can
 * predict where a page lives (stats, tests) and so the C backend has test vectors to match
 * (orchestrator/test/fixtures/redis-cluster-keys.json, cross-checked against ioredis's
 * cluster-key-slot in orchestrator/test/kvstore/key-slot.test.ts).
 *
 * Page keys (the contract with helpers/, see ARCHITECTURE.md "Redis Cluster pool"): page P
 * of VM V under prefix X, from the monitor instance with key nonce K (the same nonce as the
 * redis:// keys `XV:K:P`: 1..16 of [0-9a-z]), lives at `{XV:K:C}:P` with C = floor(P / 512),
 * so the 512 pages of a 2 MiB chunk share a slot (ready for multi-page fetches) while a VM's
 * chunks spread over all masters. P and C are unsigned decimal, no padding. X and V must not
 * contain `{` or `}`.
 */

/** Number of slots in a Redis Cluster. */
export const CLUSTER_SLOTS = 16384;

/** 4 KiB pages per placement chunk (2 MiB). */
export const CHUNK_PAGES = 512;

const TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let b = 0; b < 8; b++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    t[i] = crc;
  }
  return t;
})();

/** CRC16/XMODEM of `bytes` (crc16(bytes of "123456789") = 0x31c3). */
export function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc;
}

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }

/** The bytes Redis hashes for `key`: its hash tag if it has a non-empty one, else all of it. */
export function hashedPart(key: Uint8Array): Uint8Array {
  const open = key.indexOf(OPEN);
  if (open < 0) return key;
  const close = key.indexOf(CLOSE, open + 1);
  if (close < 0 || close === open + 1) return key;
  return key.subarray(open + 1, close);
}

/** The cluster slot (0..16383) of `key`; a string is hashed as its UTF-8 bytes. */
export function keySlot(key: string | Uint8Array): number {
  const bytes = typeof key === 'string' ? Buffer.from(key, 'utf8') : key;
  return crc16(hashedPart(bytes)) & (CLUSTER_SLOTS - 1);
}

/** The chunk (hash tag) a page belongs to. */
export function chunkOf(page: number): number {
  return Math.floor(page / CHUNK_PAGES);
}

/** The key of page `page` (index within the VM's region) of VM `vmId` under `prefix`, from
 * the monitor instance whose key nonce is `nonce`: `{PREFIX VMID:NONCE:CHUNK}:PAGE` without
 * the space. Throws if prefix or VM id hold a brace (it would change the hash tag), the
 * nonce is not 1..16 of [0-9a-z], or the page is not a non-negative integer. */
export function pageKey(prefix: string, vmId: string, nonce: string, page: number): string {
  if (/[{}]/.test(prefix) || /[{}]/.test(vmId)) throw new Error(`page keys: prefix '${prefix}' and VM id '${vmId}' must not contain { or } (they would change the hash tag)`);
  if (!/^[0-9a-z]{1,16}$/.test(nonce)) throw new Error(`page keys: the nonce must be 1..16 characters [0-9a-z], got '${nonce}'`);
  if (!Number.isSafeInteger(page) || page < 0) throw new Error(`page keys: page must be a non-negative integer, got ${page}`);
  return `{${prefix}${vmId}:${nonce}:${chunkOf(page)}}:${page}`;
}

/** What every page key under `prefix` starts with (the run's keys to count or remove). */
export function pageKeyStart(prefix: string): string {
  return `{${prefix}`;
}
