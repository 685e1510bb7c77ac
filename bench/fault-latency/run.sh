#!/usr/bin/env bash
# bench/fault-latency/run.sh [PAGES] [CAPACITY] -- per-fault service latency as seen by the
# faulting thread, for the monitor's zero-fill, dram and redis paths beside two baselines
# measured in the same run: the kernel's anonymous first-touch fault and a bare
# userfaultfd round trip (a forked trivial handler answering UFFDIO_ZEROPAGE).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAGES=${1:-4096}
CAP=${2:-1024}
make -s -C "$ROOT/helpers"
mkdir -p "$HERE/build"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$HERE/build/fault-bench" "$HERE/fault-bench.c"
B="$HERE/build/fault-bench"
H="$ROOT/helpers/bin"
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
OUT="$T/results.jsonl"

redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 600 --save '' --appendonly no >"$T/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/redis.sock" ] && break; sleep 0.05; done

"$B" kernel --pages "$PAGES" >>"$OUT"
"$B" bare --pages "$PAGES" >>"$OUT"
for backend in dram "unix://$T/redis.sock"; do
	name=$([ "$backend" = dram ] && echo dram || echo redis)
	"$H/fluidmem-monitor" --socket "$T/$name.s" --control "$T/$name.c" --backend "$backend" \
		--capacity "$CAP" --key-prefix bench: >"$T/$name.out" 2>"$T/$name.err" &
	PIDS+=($!)
	for _ in $(seq 100); do grep -q ready "$T/$name.out" 2>/dev/null && break; sleep 0.05; done
	"$B" bare --pages "$PAGES" | sed "s/uffd-bare-roundtrip/uffd-bare-before-$name/" >>"$OUT"
	FLUIDMEM_SOCKET="$T/$name.s" FLUIDMEM_REGION_BYTES=$((2 * PAGES * 4096)) FLUIDMEM_VM_ID="bench-$name" \
		LD_PRELOAD="$H/libfluidmem-attach.so" "$B" monitor --pages "$PAGES" --control "$T/$name.c" |
		sed "s/\"mode\":\"monitor-/\"mode\":\"$name-/" >>"$OUT"
	"$B" bare --pages "$PAGES" | sed "s/uffd-bare-roundtrip/uffd-bare-after-$name/" >>"$OUT"
	kill "${PIDS[-1]}"
done

# Each monitor measurement is compared with bare round trips measured right before and
# after it (the host is shared and noisy; adjacent baselines keep the ratio honest).
node - "$OUT" "$PAGES" "$CAP" <<'JS'
const fs = require('node:fs');
const [file, pages, cap] = process.argv.slice(2);
const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const by = (m) => rows.find((r) => r.mode === m);
const us = (ns) => (ns / 1000).toFixed(2).padStart(9);
const bareFor = (name) => (by(`uffd-bare-before-${name}`).p50_ns + by(`uffd-bare-after-${name}`).p50_ns) / 2;
console.log(`fault-latency: ${pages} pages per measurement, monitor capacity ${cap} pages (the fetch phase faults on every page)`);
console.log(`${'path'.padEnd(28)} ${'p50 us'.padStart(9)} ${'p99 us'.padStart(9)} ${'mean us'.padStart(9)}`);
for (const r of rows) {
  if ('p50_ns' in r) console.log(`${r.mode.padEnd(28)} ${us(r.p50_ns)} ${us(r.p99_ns)} ${us(r.mean_ns)}`);
}
for (const [name, target] of [['dram', 1.3], ['redis', 2]]) {
  const b = bareFor(name);
  const z = by(`${name}-zero-fill`), f = by(`${name}-fetch`), m = by(`${name}-meta`);
  console.log(`${name}: fetch p50 ${(f.p50_ns / 1000).toFixed(2)} us = ${(f.p50_ns / b).toFixed(2)}x bare ` +
    `(${(b / 1000).toFixed(2)} us, adjacent runs; target <= ${target}x); zero-fill p50 ${(z.p50_ns / b).toFixed(2)}x bare; ` +
    `metadata ${m.bytes_per_tracked_page} bytes/tracked page (target <= 32); ${m.bad_pages} wrong pages`);
}
JS
