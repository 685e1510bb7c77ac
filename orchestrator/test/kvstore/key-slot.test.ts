/**
 * The TypeScript key-slot function against ioredis's (cluster-key-slot) on many keys, the
 * checked-in test vectors the C backend reuses (orchestrator/test/fixtures/
 * redis-cluster-keys.json; redis-cluster.test.ts checks them against a live redis-server
 * too), and the page-key format: a chunk's pages share a slot, a VM's chunks spread.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { CHUNK_PAGES, crc16, hashedPart, keySlot, pageKey, pageKeyStart } from '../../src/kvstore/key-slot.js';

const require = createRequire(import.meta.url);
const ioredisSlot = require('cluster-key-slot') as (key: string | Buffer) => number;

interface Fixture {
  crc16_check: { input: string; crc16: number };
  chunk_pages: number;
  keys: { key: string; slot: number; cluster_key_slot?: number }[];
  pages: { prefix: string; vm: string; nonce: string; page: number; key: string; slot: number }[];
}
const fixture = JSON.parse(readFileSync(new URL('../fixtures/redis-cluster-keys.json', import.meta.url), 'utf8')) as Fixture;

/** A small seeded generator (mulberry32), so a failure names a reproducible key. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Where cluster-key-slot 1.1.1 parts from Redis: the first `{` directly followed by `}`,
 * with another `}` later (it then hashes from the first `{` to that `}`; Redis hashes the
 * whole key). */
function ioredisDiverges(key: Buffer): boolean {
  const open = key.indexOf(0x7b);
  return open >= 0 && key[open + 1] === 0x7d && key.indexOf(0x7d, open + 2) >= 0;
}

describe('keySlot', () => {
  it('is CRC16/XMODEM: the check value of "123456789" is 0x31c3', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(fixture.crc16_check.crc16).toBe(0x31c3);
  });

  it('hashes only a non-empty hash tag', () => {
    expect(Buffer.from(hashedPart(Buffer.from('{user1000}.following'))).toString()).toBe('user1000');
    expect(Buffer.from(hashedPart(Buffer.from('foo{}{bar}'))).toString()).toBe('foo{}{bar}');
    expect(Buffer.from(hashedPart(Buffer.from('foo{{bar}}zap'))).toString()).toBe('{bar');
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('{user1000}.following')).toBe(keySlot('user1000'));
  });

  it('agrees with ioredis (cluster-key-slot) on 50 000 random keys, braces and UTF-8 included', () => {
    const next = rng(10);
    const alphabet = ['a', 'b', 'z', '0', '9', ':', '{', '}', '{', '}', ' ', 'é', '€', '\u{1F600}', '\0'];
    let compared = 0; let tagged = 0; let diverged = 0;
    for (let i = 0; i < 50_000; i++) {
      const len = Math.floor(next() * 24);
      let key = '';
      for (let j = 0; j < len; j++) key += alphabet[Math.floor(next() * alphabet.length)]!;
      const bytes = Buffer.from(key, 'utf8');
      const ours = keySlot(key);
      expect(ours).toBe(keySlot(bytes));
      expect(ours).toBeGreaterThanOrEqual(0);
      expect(ours).toBeLessThan(16384);
      if (hashedPart(bytes).length !== bytes.length) tagged++;
      if (ioredisDiverges(bytes)) { diverged++; continue; }
      expect(ours, `key ${JSON.stringify(key)}`).toBe(ioredisSlot(key));
      compared++;
    }
    // The comparison covered keys with tags, not only plain ones.
    expect(compared).toBeGreaterThan(40_000);
    expect(tagged).toBeGreaterThan(5_000);
    expect(diverged).toBeGreaterThan(0);
  });

  it('matches the checked-in vectors (the C tests reuse them), and ioredis except where noted', () => {
    expect(fixture.keys.length).toBeGreaterThan(10);
    for (const v of fixture.keys) {
      expect(keySlot(v.key), v.key).toBe(v.slot);
      expect(ioredisSlot(v.key), v.key).toBe(v.cluster_key_slot ?? v.slot);
      expect(v.cluster_key_slot !== undefined, v.key).toBe(ioredisDiverges(Buffer.from(v.key)));
    }
    expect(fixture.chunk_pages).toBe(CHUNK_PAGES);
    for (const v of fixture.pages) {
      expect(pageKey(v.prefix, v.vm, v.nonce, v.page)).toBe(v.key);
      expect(keySlot(v.key)).toBe(v.slot);
      expect(ioredisSlot(v.key)).toBe(v.slot);
    }
  });
});

describe('pageKey', () => {
  const prefix = 'fluidlab:exp-20260101-000000-abcd-001:';

  it('is {PREFIX VMID:NONCE:CHUNK}:PAGE with 512-page chunks', () => {
    expect(pageKey(prefix, 'vm1', '3f9a', 0)).toBe(`{${prefix}vm1:3f9a:0}:0`);
    expect(pageKey(prefix, 'vm1', '3f9a', 511)).toBe(`{${prefix}vm1:3f9a:0}:511`);
    expect(pageKey(prefix, 'vm1', '3f9a', 512)).toBe(`{${prefix}vm1:3f9a:1}:512`);
    expect(() => pageKey('a{b', 'vm1', '3f9a', 0)).toThrow(/must not contain/);
    expect(() => pageKey(prefix, 'v}m', '3f9a', 0)).toThrow(/must not contain/);
    expect(() => pageKey(prefix, 'vm1', '3F9A', 0)).toThrow(/nonce must be 1..16 characters \[0-9a-z\], got '3F9A'/);
    expect(() => pageKey(prefix, 'vm1', '', 0)).toThrow(/nonce/);
    expect(() => pageKey(prefix, 'vm1', '3f9a', -1)).toThrow(/non-negative integer/);
  });

  it('keeps a chunk in one slot and spreads a 1 GiB VM over three masters\' slot ranges', () => {
    for (const chunk of [0, 1, 7, 511]) {
      const slots = new Set(Array.from({ length: CHUNK_PAGES }, (_, i) => keySlot(pageKey(prefix, 'vm1', '3f9a', chunk * CHUNK_PAGES + i))));
      expect(slots.size).toBe(1);
    }
    // redis-cli --cluster create splits 16384 slots into 0-5460, 5461-10922, 10923-16383.
    const perMaster = [0, 0, 0];
    const chunks = (1024 * 256) / CHUNK_PAGES;
    for (let c = 0; c < chunks; c++) {
      const slot = keySlot(pageKey(prefix, 'vm1', '3f9a', c * CHUNK_PAGES));
      perMaster[slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2]! += 1;
    }
    for (const n of perMaster) expect(n / chunks).toBeGreaterThan(0.2);
  });

  it('starts every key of a prefix with {PREFIX', () => {
    expect(pageKey('fluidlab:r1:', 'vm1', '3f9a', 70000).startsWith(pageKeyStart('fluidlab:r1:'))).toBe(true);
    expect(pageKey('fluidlab:r10:', 'vm1', '3f9a', 0).startsWith(pageKeyStart('fluidlab:r1:'))).toBe(false);
  });
});
