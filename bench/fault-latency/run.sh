#!/usr/bin/env bash
# bench/fault-latency/run.sh [PAGES] [CAPACITY] -- per-fault service latency as seen by the
# faulting thread, for the monitor's zero-fill, dram and redis paths beside two baselines
# measured in the same run: the kernel's anonymous first-touch fault and a bare
# userfaultfd round trip (a forked trivial handler answering UFFDIO_ZEROPAGE).
# Each backend runs twice: "-base" with issue 11's fast paths off (FLUIDMEM_SPIN_US=0
# FLUIDMEM_PREFETCH=0 FLUIDMEM_CLEAN_SKIP=0 FLUIDMEM_WRITE_ZERO=0 FLUIDMEM_AGENT_COPY=memcpy) and the subject with the monitor's defaults,
# each between two bare round-trip measurements. Cases per run: sequential scan (fetch),
# uniform random, strided (+3 pages), all read-only passes after one write pass.
# FLUIDLAB_HELPERS_OUT=DIR (relative to helpers/, e.g. build/dev) builds and runs the helpers
# from there instead of helpers/bin (which a long measurement may be using);
# FLUIDLAB_HELPERS_BIN=DIR runs prebuilt helpers from DIR and builds none.
# Placement (issue 11 item 4; each a taskset cpulist, empty = not pinned, i.e. inherited):
#   FAULT_CPU    the faulting process (and the attach library's agent thread in it), and the
#                kernel and bare baselines' faulting thread
#   MONITOR_CPU  fluidmem-monitor, and the bare baseline's handler (same placement)
#   REDIS_CPU    redis-server
#   AGENT_CPU    the attach library's agent thread (FLUIDMEM_AGENT_CPUS; default: FAULT_CPU)
#   KEEP_AWAKE   CPUs that get a SCHED_IDLE busy loop (keepawake.c) for the whole run, so
#                they never go idle: baselines and subjects alike run under it
#   FAULT_BENCH_RUNS  which monitor runs (default "dram-base dram redis-base redis")
# The placement, FLUIDMEM_SPIN_US, the load average and the busiest other processes are
# recorded in the output. With MONITOR_CPU disjoint from FAULT_CPU the bare handler is also
# measured busy-polling (uffd-bare-spin: the floor for a handler with a CPU of its own).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PAGES=${1:-4096}
CAP=${2:-1024}
HOUT=${FLUIDLAB_HELPERS_OUT:-bin}
if [ -n "${FLUIDLAB_HELPERS_BIN:-}" ]; then
	H=$(cd "$FLUIDLAB_HELPERS_BIN" && pwd) # prebuilt: nothing is built
else
	make -s -C "$ROOT/helpers" OUT="$HOUT"
	H="$ROOT/helpers/$HOUT"
fi
mkdir -p "$HERE/build"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$HERE/build/fault-bench" "$HERE/fault-bench.c"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$HERE/build/keepawake" "$HERE/keepawake.c"
B="$HERE/build/fault-bench"
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
OUT="$T/results.jsonl"
FAULT_CPU=${FAULT_CPU:-} MONITOR_CPU=${MONITOR_CPU:-} REDIS_CPU=${REDIS_CPU:-} KEEP_AWAKE=${KEEP_AWAKE:-}
AGENT_CPU=${AGENT_CPU:-}
RUNS=${FAULT_BENCH_RUNS:-dram-base dram redis-base redis}
# pin CPULIST CMD...: runs CMD on CPULIST (taskset), or as inherited when CPULIST is empty;
# exec, so that `pin ... &` leaves $! the command's own pid (the cleanup kills it)
pin() {
	local c=$1
	shift
	if [ -n "$c" ]; then exec taskset -c "$c" "$@"; else exec "$@"; fi
}
# the busiest processes outside this bench's process group (what else was running), as a
# JSON-safe string
others() {
	local pg
	pg=$(ps -o pgid= $$ | tr -d ' ')
	ps -eo pgid=,pcpu=,psr=,comm= --sort=-pcpu | awk -v pg="$pg" '$1 != pg' | head -5 |
		awk '{printf "%s%s%% cpu%s %s", (NR>1?"; ":""), $2, $3, $4}' | sed 's/["\\]/ /g'
}
placement() { # $1 = when
	printf '{"mode":"placement-%s","fault_cpu":"%s","agent_cpu":"%s","monitor_cpu":"%s","redis_cpu":"%s","keep_awake":"%s",' \
		"$1" "$FAULT_CPU" "$AGENT_CPU" "$MONITOR_CPU" "$REDIS_CPU" "$KEEP_AWAKE"
	printf '"spin_us":"%s","loadavg":"%s","others":"%s"}\n' "${FLUIDMEM_SPIN_US:-default}" \
		"$(cut -d' ' -f1-3 /proc/loadavg)" "$(others)"
}
for c in ${KEEP_AWAKE//,/ }; do
	"$HERE/build/keepawake" "$c" &
	PIDS+=($!)
done
cpus() { # cpulist -> one CPU number per line
	local part
	for part in ${1//,/ }; do seq "${part%-*}" "${part#*-}"; done
}
split= # the monitor has CPUs of its own
if [ -n "$MONITOR_CPU" ] && [ -n "$FAULT_CPU" ] &&
	[ -z "$(sort <(cpus "$FAULT_CPU") <(cpus "$MONITOR_CPU") | uniq -d)" ]; then
	split=yes
fi
bare() { # $1 = row name suffix ("" = uffd-bare-roundtrip), rest: extra fault-bench args
	local name=$1
	shift
	(pin "$FAULT_CPU" "$B" bare --pages "$PAGES" --handler-cpu "$MONITOR_CPU" "$@") |
		if [ -n "$name" ]; then sed "s/\"mode\":\"uffd-bare-[a-z]*\"/\"mode\":\"$name\"/"; else cat; fi
}
placement start >>"$OUT"

pin "$REDIS_CPU" redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 600 --save '' --appendonly no >"$T/redis.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do [ -S "$T/redis.sock" ] && break; sleep 0.05; done

(pin "$FAULT_CPU" "$B" kernel --pages "$PAGES") >>"$OUT"
bare "" >>"$OUT"
# the same trivial handler in another process and as a thread of the faulter, beside a
# kernel fault, on the faulter's CPUs (helpers' fluidlab-floor: the orchestrator's probe)
(pin "$FAULT_CPU" "$H/fluidlab-floor" "$PAGES") | sed 's/^{/{"mode":"floor",/' >>"$OUT"
[ -n "$split" ] && bare uffd-bare-spin-start --spin >>"$OUT"
for backend in dram "unix://$T/redis.sock"; do
	for variant in base new; do
		name=$([ "$backend" = dram ] && echo dram || echo redis)
		[ "$variant" = base ] && name="$name-base"
		case " $RUNS " in *" $name "*) ;; *) continue ;; esac
		envs=()
		[ "$variant" = base ] && envs=(FLUIDMEM_SPIN_US=0 FLUIDMEM_PREFETCH=0 FLUIDMEM_CLEAN_SKIP=0 FLUIDMEM_WRITE_ZERO=0 FLUIDMEM_AGENT_COPY=memcpy)
		pin "$MONITOR_CPU" env "${envs[@]}" "$H/fluidmem-monitor" --socket "$T/$name.s" --control "$T/$name.c" --backend "$backend" \
			--capacity "$CAP" --key-prefix "bench-$name:" >"$T/$name.out" 2>"$T/$name.err" &
		PIDS+=($!)
		for _ in $(seq 100); do grep -q ready "$T/$name.out" 2>/dev/null && break; sleep 0.05; done
		bare "uffd-bare-before-$name" >>"$OUT"
		(pin "$FAULT_CPU" env "${envs[@]}" FLUIDMEM_SOCKET="$T/$name.s" FLUIDMEM_REGION_BYTES=$((2 * PAGES * 4096)) \
			FLUIDMEM_VM_ID="bench-$name" FLUIDMEM_AGENT_CPUS="$AGENT_CPU" LD_PRELOAD="$H/libfluidmem-attach.so" "$B" monitor --pages "$PAGES" --control "$T/$name.c") |
			sed "s/\"mode\":\"monitor-/\"mode\":\"$name-/" >>"$OUT"
		bare "uffd-bare-after-$name" >>"$OUT"
		kill "${PIDS[-1]}"
		wait "${PIDS[-1]}" 2>/dev/null || true
		unset 'PIDS[-1]'
	done
done
[ -n "$split" ] && bare uffd-bare-spin-end --spin >>"$OUT"
placement end >>"$OUT"
[ -n "${FAULT_BENCH_KEEP:-}" ] && cp "$OUT" "$FAULT_BENCH_KEEP"

# Each monitor measurement is compared with bare round trips measured right before and
# after it (the host is shared and noisy; adjacent baselines keep the ratio honest).
node - "$OUT" "$PAGES" "$CAP" <<'JS'
const fs = require('node:fs');
const [file, pages, cap] = process.argv.slice(2);
const rows = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const by = (m) => rows.find((r) => r.mode === m);
const us = (ns) => (ns / 1000).toFixed(2).padStart(9);
const bareFor = (name) => (by(`uffd-bare-before-${name}`).p50_ns + by(`uffd-bare-after-${name}`).p50_ns) / 2;
const bareMean = (name) => (by(`uffd-bare-before-${name}`).mean_ns + by(`uffd-bare-after-${name}`).mean_ns) / 2;
console.log(`fault-latency: ${pages} pages per measurement, monitor capacity ${cap} pages (${(pages / cap).toFixed(0)}x overcommit in the read passes)`);
for (const w of ['start', 'end']) {
  const p = by(`placement-${w}`);
  if (!p) continue;
  const c = (v) => v || 'any';
  console.log(`placement (${w}): faulter cpu ${c(p.fault_cpu)}, agent cpu ${p.agent_cpu || 'as faulter'}, monitor+bare handler cpu ${c(p.monitor_cpu)}, ` +
    `redis cpu ${c(p.redis_cpu)}, keep-awake spinners on ${p.keep_awake || 'none'}; FLUIDMEM_SPIN_US ${p.spin_us}; ` +
    `load ${p.loadavg}; busiest others: ${p.others}`);
}
console.log(`${'path'.padEnd(28)} ${'p50 us'.padStart(9)} ${'p99 us'.padStart(9)} ${'mean us'.padStart(9)}`);
for (const r of rows) {
  if ('p50_ns' in r && r.mode) console.log(`${r.mode.padEnd(28)} ${us(r.p50_ns)} ${us(r.p99_ns)} ${us(r.mean_ns)}`);
}
const x = (v) => `${v.toFixed(2)}x`.padStart(7);
console.log(`\nratios to the adjacent bare round trip (p50 = p50/bare p50; avg = pass time per page/bare mean), base = fast paths off`);
console.log(`${'run'.padEnd(11)} ${'case'.padEnd(7)} ${'p50'.padStart(7)} ${'avg'.padStart(7)} ${'writes/evict'.padStart(12)} ${'pf hits'.padStart(8)} ${'pf wasted'.padStart(9)} ${'clean'.padStart(6)} ${'agent ns/evict'.padStart(14)} bad`);
const spin = ['uffd-bare-spin-start', 'uffd-bare-spin-end'].map(by).filter(Boolean);
if (spin.length)
  console.log(`bare handler busy-polling on its own CPU: p50 ${spin.map((r) => (r.p50_ns / 1000).toFixed(2)).join(' / ')} us (start / end)`);
for (const b of ['dram', 'redis']) {
  for (const name of [`${b}-base`, b]) {
    if (!by(`uffd-bare-before-${name}`)) continue;
    const bp = bareFor(name), bm = bareMean(name);
    for (const c of ['fetch', 'random', 'stride']) {
      const f = by(`${name}-${c}`), m = by(`${name}-${c}-meta`);
      if (!f || !m) continue;
      console.log(`${name.padEnd(11)} ${c.padEnd(7)} ${x(f.p50_ns / bp)} ${x(m.pass_ns_per_page / bm)} ` +
        `${m.writes_per_eviction.toFixed(3).padStart(12)} ${String(m.prefetch_hits).padStart(8)} ${String(m.prefetch_wasted).padStart(9)} ` +
        `${String(m.clean_drops).padStart(6)} ${String(m.agent_ns_per_eviction ?? '-').padStart(14)} ${m.bad_pages}`);
    }
    const z = by(`${name}-zero-fill`), meta = by(`${name}-meta`);
    console.log(`${name.padEnd(11)} zero-fill p50 ${(z.p50_ns / bp).toFixed(2)}x bare (${(bp / 1000).toFixed(2)} us); ` +
      `metadata ${meta.bytes_per_tracked_page} bytes/tracked page; ${meta.bad_pages} wrong pages; ` +
      `spin ${meta.spin ? `${meta.spin.mode}, ${meta.spin.hits}/${meta.spin.polls} polls found work` : 'n/a'}`);
    const zw = by(`${name}-zero-write`), zm = by(`${name}-zero-write-meta`);
    if (zw) console.log(`${name.padEnd(11)} zero-write p50 ${(zw.p50_ns / bp).toFixed(2)}x bare, mean ${(zw.mean_ns / bm).toFixed(2)}x, ` +
      `${zm.write_zero_fills_per_page} installed as private zeroed pages ` +
      `(first write of a never-seen page; else the shared zero page, which the write then copies)`);
  }
}
const fl = by('floor');
if (fl && fl.uffd_process_ns)
  console.log(`address spaces (fluidlab-floor, faulter's CPUs): round trip p50 ${(fl.uffd_process_ns / 1000).toFixed(2)} us with the handler ` +
    `in another process, ${(fl.uffd_thread_ns / 1000).toFixed(2)} us with it a thread of the faulting process ` +
    `(${(fl.uffd_process_ns / fl.uffd_thread_ns).toFixed(2)}x); kernel first-touch read (no handler) ${(fl.kernel_fault_ns / 1000).toFixed(2)} us`);
console.log('targets (issue 11): redis random p50 <= 2.0x, dram <= 1.2x; redis seq scan avg <= 1.5x; read-only writes/evict <= 0.10');
JS
