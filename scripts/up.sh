#!/usr/bin/env bash
# `npm run up`: set up what is missing, then run the quickstart experiment and print its table.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node orchestrator/bin/orchestrate.js up configs/quickstart.yaml "$@"
