#!/usr/bin/env bash
# Nightly lab run (for cron or a CI job): build what is missing, then
# `orchestrate nightly CONFIG`, which reaps leftovers of crashed runs, runs the experiment,
# compares it with the baseline, writes report.html + junit.xml into results/RUN-ID/ and
# appends to results/history.jsonl.
#
# usage: scripts/nightly.sh [CONFIG] [nightly options...]
#   CONFIG defaults to configs/quickstart.yaml; options e.g. --baseline pinned, --threshold 5.
# exit: 0 no regression, 1 regression, 2 the run failed (or setup failed).
# env:  FLUIDLAB_NIGHTLY_SKIP_SETUP=1 to skip scripts/setup.sh (already set up).
set -uo pipefail
cd "$(dirname "$0")/.."

config="${1:-configs/quickstart.yaml}"
[ "$#" -gt 0 ] && shift

# One nightly at a time on this machine: a second one (cron overlap) exits as a failed run.
exec 9>"${TMPDIR:-/tmp}/fluidlab-nightly.lock"
if ! flock -n 9; then
  echo "nightly: another nightly run holds ${TMPDIR:-/tmp}/fluidlab-nightly.lock; not starting" >&2
  exit 2
fi

if [ "${FLUIDLAB_NIGHTLY_SKIP_SETUP:-0}" != 1 ]; then
  if ! bash scripts/setup.sh; then
    echo "nightly: setup failed (see above)" >&2
    exit 2
  fi
fi

node orchestrator/bin/orchestrate.js nightly "$config" "$@"
status=$?
case "$status" in
  0) echo "nightly: no regression" >&2 ;;
  1) echo "nightly: REGRESSION (see the report and junit.xml in the run directory)" >&2 ;;
  *) echo "nightly: the run FAILED (exit $status)" >&2; status=2 ;;
esac
exit "$status"
