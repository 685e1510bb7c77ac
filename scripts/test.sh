#!/usr/bin/env bash
# `npm test`: set up what is missing, type-check, build the C parts with warnings as errors,
# then run every test (unit and integration: real QEMU, Redis, userfaultfd, SSH).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
make -s -C helpers clean all WERROR=1
make -s -C workloads clean all WERROR=1
npx vitest run "$@"
