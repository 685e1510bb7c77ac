#!/usr/bin/env bash
# bench/fault-latency/scale.sh [N] -- issue 11 item 5: does fault service depend on the number
# of attached processes? One monitor (dram, capacity 96 pages per process) serves 1, then N
# (default 64), then 1 uffd-harness processes at once (512-page regions, 256-page working sets,
# 3000 random read/write/verify operations each; every byte checked against a shadow copy);
# prints, per run, failed processes, the harnesses' corrupt_bytes and the monitor's
# handler-side fault latency p50/p99 (stats histogram: 4 buckets per power of two), and the
# monitor's own CPU time per fault (utime+stime / faults): the latency of N processes faulting
# at once includes waiting behind the others' faults (queueing on one monitor), the CPU time
# per fault does not, so it is what says whether serving a fault costs more with more VMs.
# TURNS=1: the processes take turns (uffd-harness --turns: one faults at a time, for BURST
# operations, default 50, while the others stay attached with their pages resident): the
# latency then carries every per-VM cost of the monitor (victim choice, VM lookup, deferred
# retries over N attached VMs) and no queueing behind other processes' faults.
# SCHED=fifo: the monitor runs SCHED_FIFO (chrt -f 10; needs root). Under SCHED_OTHER a
# process woken by the monitor's UFFDIO_COPY on the same CPU preempts the monitor inside the
# ioctl, so the handler-side latency of N processes at once also holds the run time of the
# woken process and of whatever else the CPU runs before the ioctl returns; SCHED_FIFO keeps
# the monitor on the CPU until it sleeps, so the latency is its service time (faults that
# wait for an eviction included). The line says which (the monitor's stats "sched").
# Without TURNS, each run is followed by the same number of bare-scale.c processes (one
# trivial handler answering N userfaultfds with UFFDIO_COPY, the same children's shape,
# the same SCHED): the kernel's and scheduler's share of the change with N. The last line
# sets the monitor's p50 ratio (N over the mean of the two single runs) beside the bare one.
# FLUIDLAB_HELPERS_BIN=DIR runs prebuilt helpers (default: helpers/bin, built if missing).
# Pin it (taskset -c 0) for comparable figures on a noisy host.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
B=${FLUIDLAB_HELPERS_BIN:-$HERE/../../helpers/bin}
N=${1:-64}
TURN_ARGS=()
SCHED_CMD=()
[ "${SCHED:-other}" = fifo ] && SCHED_CMD=(chrt -f 10)
[ -x "$B/fluidmem-monitor" ] || make -s -C "$HERE/../../helpers"
mkdir -p "$HERE/build"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -o "$HERE/build/bare-scale" "$HERE/bare-scale.c" "$HERE/../../helpers/src/hist.c"
declare -A P50
T=$(mktemp -d)
MPID=
cleanup() { [ -n "$MPID" ] && kill "$MPID" 2>/dev/null; jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null || true; rm -rf "$T"; }
trap cleanup EXIT
run() { # $1 = processes, $2 = label: its p50 kept
	"${SCHED_CMD[@]}" "$B/fluidmem-monitor" --socket "$T/s$1" --control "$T/c$1" --backend dram --capacity $(($1 * 96)) >"$T/o$1" 2>"$T/e$1" &
	MPID=$!
	for _ in $(seq 100); do grep -q ready "$T/o$1" 2>/dev/null && break; sleep 0.05; done
	local pids=() bad=0
	[ "${TURNS:-0}" = 1 ] && TURN_ARGS=(--turns "$T/turn$1" --burst "${BURST:-50}")
	for i in $(seq "$1"); do
		FLUIDMEM_SOCKET="$T/s$1" FLUIDMEM_REGION_BYTES=$((512 * 4096)) FLUIDMEM_VM_ID="v$i" \
			LD_PRELOAD="$B/libfluidmem-attach.so" "$B/uffd-harness" --region-pages 512 --pages 256 --ops 3000 \
			--threads 1 --seed "$i" "${TURN_ARGS[@]}" >"$T/h$1.$i" 2>&1 &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
	local st
	st=$(node -e '
const s = require("node:net").connect(process.argv[1]); let b = "";
s.on("data", (d) => { b += d; if (b.endsWith("\n")) { const t = JSON.parse(b).total;
  console.log(`faults ${t.faults} p50 ${t.fault_latency_ns.p50} ns p99 ${t.fault_latency_ns.p99} ns | monitor sched ${JSON.parse(b).sched}`); s.end(); } });
s.write("{\"cmd\":\"stats\"}\n");' "$T/c$1")
	# utime + stime (clock ticks) of the monitor, after the process name's closing paren
	local ticks hz faults
	ticks=$(awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$MPID/stat")
	hz=$(getconf CLK_TCK)
	faults=$(echo "$st" | awk '{ print $2 }')
	st="$st | monitor cpu $(awk -v t="$ticks" -v h="$hz" -v f="$faults" 'BEGIN { printf "%.2f us/fault", f ? t * 1e6 / h / f : 0 }')"
	kill "$MPID"
	wait "$MPID" 2>/dev/null || true
	MPID=
	P50[mon$2]=$(echo "$st" | awk '{ print $4 }')
	echo "processes=$1 $([ "${TURNS:-0}" = 1 ] && echo "taking turns (burst ${BURST:-50})" || echo "at once") failed=$bad corrupt_bytes: $(cat "$T"/h"$1".* | grep -o '"corrupt_bytes":[0-9]*' | sort | uniq -c | tr -s ' \n' ' ')| $st"
}
bare() { # $1 = processes, $2 = label: the bare handler's line, its p50 kept
	local line
	line=$("${SCHED_CMD[@]}" "$HERE/build/bare-scale" "$1")
	P50[bare$2]=$(echo "$line" | awk '{ print $6 }')
	echo "$line | sched ${SCHED:-other}"
}
run 1 a
[ "${TURNS:-0}" = 1 ] || bare 1 a
run "$N" n
[ "${TURNS:-0}" = 1 ] || bare "$N" n
run 1 b
if [ "${TURNS:-0}" != 1 ]; then
	bare 1 b
	awk -v n="$N" -v m1="${P50[mona]}" -v mn="${P50[monn]}" -v m2="${P50[monb]}" \
		-v b1="${P50[barea]}" -v bn="${P50[baren]}" -v b2="${P50[bareb]}" 'BEGIN {
		printf "p50 ratio %s processes / 1: monitor %.2fx, bare handler %.2fx (same run)\n", n,
			mn / ((m1 + m2) / 2), bn / ((b1 + b2) / 2) }'
fi
