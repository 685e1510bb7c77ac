#!/usr/bin/env bash
# asan-check.sh DIR -- run the harness against the monitor, both built with
# AddressSanitizer+UBSan in DIR (make asan), with the dram backend, a Redis backend
# (if redis-server exists) and a live resize. Fails on any sanitizer report,
# corruption or non-zero exit.
set -euo pipefail
DIR=${1:?usage: asan-check.sh BUILD_DIR}
DIR=$(cd "$DIR" && pwd)
T=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"; }
trap cleanup EXIT
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
LIBASAN=$(${CC:-cc} -print-file-name=libasan.so)
REGION=2048

run_case() { # NAME BACKEND [resize]
	local name=$1 backend=$2
	"$DIR/fluidmem-monitor" --socket "$T/$name.s" --control "$T/$name.c" --backend "$backend" \
		--capacity 128 --key-prefix "asan:" >"$T/$name.out" 2>"$T/$name.err" &
	local mp=$!
	PIDS+=("$mp")
	for _ in $(seq 100); do grep -q ready "$T/$name.out" 2>/dev/null && break; sleep 0.05; done
	grep -q ready "$T/$name.out" || { cat "$T/$name.err"; echo "asan-check: monitor did not start"; exit 1; }
	FLUIDMEM_SOCKET="$T/$name.s" FLUIDMEM_REGION_BYTES=$((REGION * 4096)) FLUIDMEM_VM_ID="$name" \
		LD_PRELOAD="$LIBASAN:$DIR/libfluidmem-attach.so" \
		"$DIR/uffd-harness" --region-pages $REGION --pages 512 --ops 6000 --threads 2 --remove-pct 2 \
		>"$T/$name.h" 2>"$T/$name.herr" &
	local hp=$!
	if [ "${3:-}" = resize ]; then
		for _ in $(seq 200); do grep -q "phase1 done" "$T/$name.h" && break; sleep 0.05; done
		python3 - "$T/$name.c" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile()
s.sendall(b'{"cmd":"resize","pages":64}\n'); print(f.readline().strip())
PY
	fi
	local hrc=0
	wait "$hp" || hrc=$?
	kill -TERM "$mp"
	local mrc=0
	wait "$mp" || mrc=$?
	if [ $hrc -ne 0 ] || [ $mrc -ne 0 ] || grep -q "ERROR: AddressSanitizer\|runtime error" "$T/$name.err" "$T/$name.herr"; then
		echo "asan-check: $name failed (harness $hrc, monitor $mrc)"
		cat "$T/$name.h" "$T/$name.herr" "$T/$name.err"
		exit 1
	fi
	echo "asan-check: $name ok: $(tail -1 "$T/$name.h")"
}

run_case dram dram
run_case resize dram resize
if command -v redis-server >/dev/null; then
	redis-server --port 0 --unixsocket "$T/redis.sock" --unixsocketperm 600 --save '' --appendonly no \
		>"$T/redis.log" 2>&1 &
	PIDS+=($!)
	for _ in $(seq 100); do [ -S "$T/redis.sock" ] && break; sleep 0.05; done
	run_case redis "unix://$T/redis.sock"
fi
echo "asan-check: all ok"
