#!/usr/bin/env bash
# bench/page-hash/run.sh [PAGES] [ROUNDS] -- wp.c's page hash, old vs new, in one run (see
# hash-bench.c). Pin it: `taskset -c 0 bash bench/page-hash/run.sh`.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
SRC="$HERE/../../helpers/src"
mkdir -p "$HERE/build"
${CC:-cc} -std=c11 -O2 -Wall -Wextra -Werror -I"$SRC" -o "$HERE/build/hash-bench" "$HERE/hash-bench.c" "$SRC/pagehash.c"
"$HERE/build/hash-bench" "$@"
