#!/usr/bin/env bash
# `npm test`: set up what is missing, type-check, build the C parts with warnings as errors,
# then run every test (unit and integration: real QEMU, Redis, userfaultfd, SSH) and print
# a closing "N passed, N failed" line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
make -s -C helpers clean all WERROR=1
make -s -C workloads clean all WERROR=1
report=$(mktemp --suffix=.json)
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$report" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed, ${r.numPendingTests + r.numTodoTests} skipped`);
' "$report" || true
rm -f "$report"
exit "$status"
