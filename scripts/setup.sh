#!/usr/bin/env bash
# Idempotent set-up of a fresh Debian 12 machine for FluidLab: installs the Debian packages
# that are missing, the npm dependencies, then builds the orchestrator, the helpers, the
# workloads and the guest image. Safe to run again: each step is skipped when done.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(qemu-system-x86 qemu-utils redis-server busybox-static cpio libhiredis-dev dropbear-bin zstd xz-utils openssh-client make gcc libc6-dev python3 chromium)

SUDO=()
if [ "$(id -u)" -ne 0 ]; then SUDO=(sudo); fi

log() { printf '[setup] %s\n' "$*"; }

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  "${SUDO[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

log "building helpers, workloads and orchestrator"
make -s -C helpers
make -s -C workloads
npx tsc -p tsconfig.build.json

log "building (or reusing) the guest image"
node orchestrator/bin/orchestrate.js image build --workloads workloads/bin
log "ready"
