#!/usr/bin/env bash
# FluidLab guest image builder.
#
# Builds a bootable guest (kernel + initramfs) from Debian packages only:
#   - Debian's kernel (linux-image-<abi>-amd64, fetched with `apt-get download`, extracted
#     with dpkg-deb into a temp dir, never installed into the host), and the virtio/pvpanic/
#     ACPI-button modules the guest needs, with their modules.dep dependencies;
#   - busybox-static (the whole userland), dropbear (SSH server) with its shared libraries
#     and the dynamic loader, taken from the host's installed busybox-static/dropbear-bin;
#   - vm-images/init.sh as /init; the workloads (every file in --workloads DIR but *-host) in
#     /opt/fluidlab/bin (on PATH, also linked into /usr/local/bin for ssh commands);
#   - a per-image SSH client key (DIR/id_ed25519, OpenSSH format) whose .pub is the guest's
#     authorized key, and a per-image dropbear host key (public half in DIR/host_key.pub).
#
# Usage:
#   build.sh --out DIR [--workloads DIR] [--kernel-deb FILE | --kernel-package NAME=VERSION]
#            [--deb-cache DIR] [--inputs-hash HASH]
#   build.sh --resolve-kernel [--deb-cache DIR]   # prints "NAME VERSION" of the kernel to use
#
# Output: DIR/vmlinuz, DIR/vmlinux (uncompressed, PVH-bootable: faster), DIR/initrd.img (gzip'd newc cpio), DIR/id_ed25519{,.pub},
#         DIR/host_key.pub, DIR/manifest.json. DIR must not exist or be empty.
# Kernel command line: console=ttyS0 panic=-1 quiet [fluidlab.swap=/dev/vdX]; boot with
# QEMU -no-reboot so that a guest panic makes QEMU exit.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEB_CACHE="$HERE/cache/debs"
OUT=""
WORKLOADS=""
KERNEL_DEB=""
KERNEL_SPEC=""
INPUTS_HASH=""
MODE=build

die() { echo "build.sh: error: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --out) OUT="${2:?--out needs a directory}"; shift 2 ;;
    --workloads) WORKLOADS="${2:?--workloads needs a directory}"; shift 2 ;;
    --kernel-deb) KERNEL_DEB="${2:?--kernel-deb needs a file}"; shift 2 ;;
    --kernel-package) KERNEL_SPEC="${2:?--kernel-package needs NAME=VERSION}"; shift 2 ;;
    --deb-cache) DEB_CACHE="${2:?--deb-cache needs a directory}"; shift 2 ;;
    --inputs-hash) INPUTS_HASH="${2:?--inputs-hash needs a value}"; shift 2 ;;
    --resolve-kernel) MODE=resolve; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//;$d'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done

# apt-cache with a private binary cache: ~0.2 s instead of ~1 s per call when the host has
# no /var/cache/apt/pkgcache.bin. apt rebuilds it by itself when the package lists change.
APT_PKGCACHE_DIR="$(dirname "$DEB_CACHE")/apt"
apt_cache() {
  mkdir -p "$APT_PKGCACHE_DIR"
  apt-cache -o "Dir::Cache::pkgcache=$APT_PKGCACHE_DIR/pkgcache.bin" \
            -o "Dir::Cache::srcpkgcache=$APT_PKGCACHE_DIR/srcpkgcache.bin" "$@"
}

# Prints "NAME VERSION" of the kernel package the linux-image-amd64 metapackage depends on.
resolve_kernel() {
  local dep
  dep="$(apt_cache show --no-all-versions linux-image-amd64 2>/dev/null \
         | sed -n 's/^Depends: *\(linux-image-[^ ,]*\) *(= *\([^)]*\)).*/\1 \2/p' | head -n1)" || true
  [[ -n "$dep" ]] || die "cannot resolve the kernel package from linux-image-amd64; run 'apt-get update' (Debian 12 apt sources needed) or pass --kernel-deb FILE"
  echo "$dep"
}

if [[ "$MODE" == resolve ]]; then
  resolve_kernel
  exit 0
fi

[[ -n "$OUT" ]] || die "--out DIR is required (see --help)"
if [[ -e "$OUT" ]] && [[ -n "$(ls -A "$OUT")" ]]; then die "--out $OUT exists and is not empty"; fi
[[ -z "$WORKLOADS" || -d "$WORKLOADS" ]] || die "--workloads $WORKLOADS is not a directory"
for tool in dpkg-deb dpkg-query cpio gzip ssh-keygen dropbearkey ldd busybox; do
  command -v "$tool" >/dev/null || die "'$tool' not found; install it: apt-get install -y dpkg cpio gzip openssh-client dropbear-bin libc-bin busybox-static"
done
BUSYBOX=/bin/busybox
DROPBEAR=/usr/sbin/dropbear
[[ -x "$BUSYBOX" ]] && dpkg-query -W busybox-static >/dev/null 2>&1 || die "busybox-static is not installed: apt-get install -y busybox-static"
[[ -x "$DROPBEAR" ]] || die "dropbear is not installed: apt-get install -y dropbear-bin"
BUSYBOX_VERSION="$(dpkg-query -W -f='${Version}' busybox-static)"
DROPBEAR_VERSION="$(dpkg-query -W -f='${Version}' dropbear-bin)"

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/fluidlab-image.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- kernel package (.deb)
if [[ -z "$KERNEL_DEB" ]]; then
  if [[ -n "$KERNEL_SPEC" ]]; then
    KPKG="${KERNEL_SPEC%%=*}"; KVER="${KERNEL_SPEC#*=}"
    [[ "$KPKG" != "$KERNEL_SPEC" && -n "$KVER" ]] || die "--kernel-package wants NAME=VERSION, got '$KERNEL_SPEC'"
  else
    read -r KPKG KVER < <(resolve_kernel)
  fi
  mkdir -p "$DEB_CACHE"
  KERNEL_DEB="$DEB_CACHE/${KPKG}_${KVER//:/%3a}_amd64.deb"
  if [[ ! -s "$KERNEL_DEB" ]]; then
    log "downloading $KPKG=$KVER into $DEB_CACHE"
    # Download into the temp dir first so that an interrupted download never lands in the cache.
    (cd "$WORK" && apt-get download -q "$KPKG=$KVER" 2>&1 | grep -v 'Download is performed unsandboxed' >&2) \
      || die "apt-get download $KPKG=$KVER failed; run 'apt-get update' or pass --kernel-deb FILE"
    deb="$(ls "$WORK"/"${KPKG}"_*.deb 2>/dev/null | head -n1)"
    [[ -n "$deb" ]] || die "apt-get download $KPKG=$KVER produced no .deb"
    mv "$deb" "$KERNEL_DEB.part.$$" && mv "$KERNEL_DEB.part.$$" "$KERNEL_DEB"
  fi
fi
[[ -s "$KERNEL_DEB" ]] || die "kernel package $KERNEL_DEB not found"
KPKG="$(dpkg-deb -f "$KERNEL_DEB" Package)"
KVER="$(dpkg-deb -f "$KERNEL_DEB" Version)"
log "kernel package $KPKG=$KVER"

KROOT="$WORK/kernel"
dpkg-deb -x "$KERNEL_DEB" "$KROOT"
KREL="$(ls "$KROOT/lib/modules" | head -n1)"
[[ -n "$KREL" && -d "$KROOT/lib/modules/$KREL" ]] || die "$KERNEL_DEB has no lib/modules/<version>"
MODDIR="$KROOT/lib/modules/$KREL"
[[ -f "$KROOT/boot/vmlinuz-$KREL" ]] || die "$KERNEL_DEB has no boot/vmlinuz-$KREL"
cp "$KROOT/boot/vmlinuz-$KREL" "$OUT/vmlinuz"

# The uncompressed kernel (ELF with a PVH entry note): QEMU boots it directly with -kernel,
# skipping the bzImage self-decompression, which under TCG takes ~3 s of a ~6 s boot.
# Payload found like the kernel's scripts/extract-vmlinux does. Optional: BOOT_KERNEL stays
# vmlinuz when the kernel has no PVH entry or the payload cannot be extracted.
BOOT_KERNEL=vmlinuz
extract_vmlinux() {  # magic(grep -P) decompress-command...
  local magic="$1" off; shift
  off="$(LC_ALL=C grep -obUaP "$magic" "$OUT/vmlinuz" | head -n1 | cut -d: -f1)" || true
  [[ -n "$off" ]] || return 1
  tail -c "+$((off + 1))" "$OUT/vmlinuz" | "$@" > "$WORK/vmlinux" 2>/dev/null || true
  [[ "$(head -c 4 "$WORK/vmlinux" | od -An -c | tr -d ' ')" == '177ELF' ]]
}
if grep -q '^CONFIG_PVH=y' "$KROOT/boot/config-$KREL" 2>/dev/null; then
  if extract_vmlinux '\xfd7zXZ\x00' xz -dc --single-stream \
     || extract_vmlinux '\x28\xb5\x2f\xfd' zstd -qdc \
     || extract_vmlinux '\x1f\x8b\x08' gzip -dc; then
    mv "$WORK/vmlinux" "$OUT/vmlinux"
    BOOT_KERNEL=vmlinux
  else
    log "could not extract vmlinux from vmlinuz; guests boot the compressed kernel (slower)"
  fi
fi

# Debian generates modules.dep at install time (depmod in postinst): generate it here.
if [[ ! -s "$MODDIR/modules.dep" ]]; then
  busybox depmod -b "$KROOT" "$KREL" || die "depmod failed for $KREL"
fi

# ---------------------------------------------------------------- module selection
# Required modules fail the build when missing; optional ones are skipped.
REQUIRED_MODULES=(virtio_pci virtio_net virtio_blk virtio_console virtio_balloon)
OPTIONAL_MODULES=(pvpanic pvpanic_pci pvpanic_mmio virtio_rng button evdev)

norm() { local n="${1##*/}"; n="${n%%.ko*}"; echo "${n//-/_}"; }

declare -A DEP_LINE=()   # module name -> "path: dep dep ..."
while IFS= read -r line; do
  path="${line%%:*}"
  DEP_LINE["$(norm "$path")"]="$line"
done < "$MODDIR/modules.dep"

declare -A BUILTIN=()
while IFS= read -r path; do BUILTIN["$(norm "$path")"]=1; done < "$MODDIR/modules.builtin"

declare -A VISITED=()
LOAD_ORDER=()          # relative .ko paths, dependencies first
MODULE_NAMES=()
BUILTIN_NAMES=()
visit() {  # depth-first: dependencies before the module itself
  local name="$1" line path dep
  [[ -z "${VISITED[$name]:-}" ]] || return 0
  VISITED["$name"]=1
  line="${DEP_LINE[$name]:-}"
  [[ -n "$line" ]] || die "modules.dep has no entry for dependency $name"
  path="${line%%:*}"
  for dep in ${line#*:}; do visit "$(norm "$dep")"; done
  LOAD_ORDER+=("$path")
  MODULE_NAMES+=("$name")
}
select_module() {  # name required(0|1)
  local name="$1"
  if [[ -n "${BUILTIN[$name]:-}" ]]; then BUILTIN_NAMES+=("$name"); return 0; fi
  if [[ -z "${DEP_LINE[$name]:-}" ]]; then
    [[ "$2" == 0 ]] || die "kernel $KREL has no module $name (neither builtin nor in modules.dep)"
    log "optional module $name not available, skipped"; return 0
  fi
  visit "$name"
}
for m in "${REQUIRED_MODULES[@]}"; do select_module "$m" 1; done
for m in "${OPTIONAL_MODULES[@]}"; do select_module "$m" 0; done

# ---------------------------------------------------------------- initramfs tree
ROOT="$WORK/root"
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,usr/local/bin,etc/dropbear,etc/fluidlab,etc/acpi/PWRF} \
         "$ROOT"/{dev,proc,sys,tmp,run,var/log,var/run,root,mnt,opt/fluidlab/bin} \
         "$ROOT/lib/modules/$KREL" "$ROOT/lib/x86_64-linux-gnu" "$ROOT/lib64"
chmod 1777 "$ROOT/tmp"
chmod 700 "$ROOT/root"

# busybox + applet symlinks (done here rather than with --install at boot: faster boot).
cp "$BUSYBOX" "$ROOT/bin/busybox"
while IFS= read -r applet; do
  [[ "$applet" == bin/busybox ]] && continue
  mkdir -p "$ROOT/$(dirname "$applet")"
  ln -sf /bin/busybox "$ROOT/$applet"
done < <("$BUSYBOX" --list-full)

# dropbear with the shared libraries it needs and the dynamic loader.
cp "$DROPBEAR" "$ROOT/usr/sbin/dropbear"
while read -r lib; do
  [[ -n "$lib" ]] || continue
  case "$lib" in
    */ld-linux*) dest="$ROOT/lib64/$(basename "$lib")" ;;
    *) dest="$ROOT/lib/x86_64-linux-gnu/$(basename "$lib")" ;;
  esac
  cp -L "$lib" "$dest"
done < <(ldd "$DROPBEAR" | awk '/=> \//{print $3} /^[ \t]*\/.*ld-linux/{print $1}')
[[ -n "$(ls "$ROOT/lib64")" ]] || die "ldd $DROPBEAR did not report the dynamic loader"

# kernel modules, decompressed, with the load order for /init.
: > "$ROOT/lib/modules/$KREL/load-order"
for rel in "${LOAD_ORDER[@]}"; do
  src="$MODDIR/$rel"
  dst="$ROOT/lib/modules/$KREL/${rel%.xz}"; dst="${dst%.zst}"; dst="${dst%.gz}"
  mkdir -p "$(dirname "$dst")"
  case "$rel" in
    *.ko.xz) xz -dc "$src" > "$dst" ;;
    *.ko.zst) zstd -qdc "$src" > "$dst" ;;
    *.ko.gz) gzip -dc "$src" > "$dst" ;;
    *) cp "$src" "$dst" ;;
  esac
  echo "${dst#"$ROOT/lib/modules/$KREL/"}" >> "$ROOT/lib/modules/$KREL/load-order"
done
cp "$MODDIR/modules.builtin" "$ROOT/lib/modules/$KREL/"

# workloads
WORKLOAD_NAMES=()
if [[ -n "$WORKLOADS" ]]; then
  while IFS= read -r -d '' f; do
    [[ -f "$f" ]] || continue   # symlinks to non-files
    name="$(basename "$f")"
    [[ "$name" == *-host ]] && continue   # host builds (workloads/bin/pmbench-host, ...) stay out
    cp "$f" "$ROOT/opt/fluidlab/bin/$name"
    chmod 755 "$ROOT/opt/fluidlab/bin/$name"
    ln -sf "/opt/fluidlab/bin/$name" "$ROOT/usr/local/bin/$name"
    WORKLOAD_NAMES+=("$name")
  done < <(find "$WORKLOADS" -mindepth 1 -maxdepth 1 \( -type f -o -type l \) -print0 | LC_ALL=C sort -z)
fi

# accounts, config
cat > "$ROOT/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/bin/sh
EOF
cat > "$ROOT/etc/shadow" <<'EOF'
root:*:19000:0:99999:7:::
EOF
chmod 600 "$ROOT/etc/shadow"
echo 'root:x:0:' > "$ROOT/etc/group"
echo '/bin/sh' > "$ROOT/etc/shells"
echo 'fluidlab' > "$ROOT/etc/hostname"
printf '127.0.0.1\tlocalhost\n10.0.2.15\tfluidlab\n' > "$ROOT/etc/hosts"
echo 'nameserver 10.0.2.3' > "$ROOT/etc/resolv.conf"
cat > "$ROOT/etc/profile" <<'EOF'
export PATH=/opt/fluidlab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
EOF
# busybox acpid runs ./PWRF/00000080 (relative to -c DIR) on an ACPI power-button press,
# which is what QEMU's system_powerdown sends.
cat > "$ROOT/etc/acpi/PWRF/00000080" <<'EOF'
#!/bin/sh
# ACPI power button (QEMU system_powerdown): ask /init (PID 1) to power off.
kill -USR2 1
EOF
chmod 755 "$ROOT/etc/acpi/PWRF/00000080"
echo "$KREL" > "$ROOT/etc/fluidlab/kernel-release"

# keys: client key for the orchestrator, host key baked in (no key generation at boot).
ssh-keygen -q -t ed25519 -N '' -C "fluidlab-image" -f "$OUT/id_ed25519"
cp "$OUT/id_ed25519.pub" "$ROOT/etc/fluidlab/authorized_keys"
dropbearkey -t ed25519 -f "$ROOT/etc/dropbear/dropbear_ed25519_host_key" >/dev/null 2>&1
dropbearkey -y -f "$ROOT/etc/dropbear/dropbear_ed25519_host_key" | grep '^ssh-ed25519 ' \
  | awk '{print $1, $2, "fluidlab-guest"}' > "$OUT/host_key.pub"
chmod 600 "$ROOT/etc/dropbear/dropbear_ed25519_host_key"

install -m 755 "$HERE/init.sh" "$ROOT/init"

# newc cpio, owned by root, deterministic order.
(cd "$ROOT" && find . -mindepth 1 -print0 | LC_ALL=C sort -z \
  | cpio --quiet --null -o -H newc --owner=0:0 --reproducible) | gzip -6n > "$OUT/initrd.img"

# ---------------------------------------------------------------- manifest
json_str() { local s="${1//\\/\\\\}"; s="${s//\"/\\\"}"; printf '"%s"' "$s"; }
json_arr() { local first=1 x; printf '['; for x in "$@"; do [[ $first == 1 ]] || printf ','; first=0; json_str "$x"; done; printf ']'; }
{
  printf '{\n'
  printf '  "kernelVersion": %s,\n' "$(json_str "$KREL")"
  printf '  "kernelPackage": %s,\n' "$(json_str "$KPKG")"
  printf '  "kernelPackageVersion": %s,\n' "$(json_str "$KVER")"
  printf '  "bootKernel": %s,\n' "$(json_str "$BOOT_KERNEL")"
  printf '  "busyboxVersion": %s,\n' "$(json_str "$BUSYBOX_VERSION")"
  printf '  "dropbearVersion": %s,\n' "$(json_str "$DROPBEAR_VERSION")"
  printf '  "modules": %s,\n' "$(json_arr "${MODULE_NAMES[@]}")"
  printf '  "builtinModules": %s,\n' "$(json_arr "${BUILTIN_NAMES[@]}")"
  printf '  "workloads": %s,\n' "$(json_arr "${WORKLOAD_NAMES[@]}")"
  printf '  "hostKey": %s,\n' "$(json_str "$(cat "$OUT/host_key.pub")")"
  printf '  "builtAt": %s,\n' "$(json_str "$(date -u +%Y-%m-%dT%H:%M:%SZ)")"
  if [[ -n "$INPUTS_HASH" ]]; then printf '  "inputsHash": %s\n' "$(json_str "$INPUTS_HASH")"
  else printf '  "inputsHash": null\n'; fi
  printf '}\n'
} > "$OUT/manifest.json"

log "built $OUT (kernel $KREL, modules: ${MODULE_NAMES[*]}, workloads: ${#WORKLOAD_NAMES[@]})"
