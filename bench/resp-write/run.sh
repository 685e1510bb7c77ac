#!/usr/bin/env bash
# bench/resp-write/run.sh [BATCH] [BATCHES] [ROUNDS] -- CPU time per SET of a page through
# resp_conn.c, page copied into the output buffer vs borrowed (writev), alternating rounds
# in one run against a private redis-server on a Unix socket (see write-bench.c).
# Pin it with REDIS_CPU / BENCH_CPU (taskset cpulists; empty = not pinned).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC="$HERE/../../helpers/src"
mkdir -p "$HERE/build"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I"$SRC" -o "$HERE/build/write-bench" "$HERE/write-bench.c" "$SRC/resp_conn.c" -lhiredis
T=$(mktemp -d)
pin() { local c=$1; shift; if [ -n "$c" ]; then exec taskset -c "$c" "$@"; else exec "$@"; fi; }
(pin "${REDIS_CPU:-}" redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 600 --save '' --appendonly no >"$T/redis.log" 2>&1) &
RPID=$!
trap 'kill $RPID 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$T"' EXIT
for _ in $(seq 50); do [ -S "$T/redis.sock" ] && break; sleep 0.1; done
echo "placement: bench cpu ${BENCH_CPU:-any}, redis cpu ${REDIS_CPU:-any}; load $(cut -d' ' -f1-3 /proc/loadavg)"
(pin "${BENCH_CPU:-}" "$HERE/build/write-bench" "$T/redis.sock" "$@")
