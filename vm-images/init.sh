#!/bin/sh
# FluidLab guest /init (PID 1 of the initramfs built by vm-images/build.sh; busybox ash).
#
# Mounts proc/sys/dev/tmp, loads the virtio modules (in the order build.sh computed), brings
# up lo and eth0 (10.0.2.15/24 via 10.0.2.2: QEMU user-mode networking), installs the
# per-image authorized key for root, starts dropbear on port 22 (keys only), optionally
# enables swap, then prints FLUIDLAB-READY on the console (console=ttyS0) and waits.
#
# Kernel command line keys:
#   fluidlab.swap=/dev/vdX   mkswap + swapon that disk (prints "FLUIDLAB-SWAP: ...")
#   fluidlab.hostname=NAME   hostname (default: fluidlab)
# Failures print "FLUIDLAB-INIT-ERROR: <what>" and power the guest off.
# Power off: `poweroff`/`reboot`/`halt` (busybox signals PID 1 with USR2/TERM/USR1) and the
# ACPI power button (QEMU system_powerdown -> button + evdev modules -> busybox acpid ->
# /etc/acpi/PWRF/00000080 -> USR2 to PID 1) all end in poweroff -f; with QEMU -no-reboot a
# kernel panic (panic=-1) makes QEMU exit too.

export PATH=/opt/fluidlab/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root
umask 022

power_off() {
  # Stop services, release swap, flush, power off (QEMU exits on ACPI poweroff).
  kill -TERM $(cat /run/dropbear.pid /run/acpid.pid 2>/dev/null) 2>/dev/null
  swapoff -a 2>/dev/null
  sync
  poweroff -f
  sleep 5
  exit 1
}

fail() {
  echo "FLUIDLAB-INIT-ERROR: $*"
  power_off
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"
mount -t devtmpfs devtmpfs /dev || fail "mount devtmpfs on /dev"
# The initramfs has no /dev/console node: reopen stdio on the console now that /dev exists.
exec 0</dev/console 1>/dev/console 2>&1
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts || fail "mount /dev/pts"
mount -t tmpfs -o mode=1777 tmpfs /tmp || fail "mount /tmp"
mount -t tmpfs -o mode=755 tmpfs /run || fail "mount /run"
mount -t tmpfs -o mode=1777 tmpfs /dev/shm || fail "mount /dev/shm"

trap power_off USR1 USR2 TERM

# Kernel command line keys.
SWAP_DEV=""
HOSTNAME_ARG=fluidlab
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    fluidlab.swap=*) SWAP_DEV="${arg#fluidlab.swap=}" ;;
    fluidlab.hostname=*) HOSTNAME_ARG="${arg#fluidlab.hostname=}" ;;
  esac
done

# Modules, dependencies first (lib/modules/<release>/load-order, written by build.sh).
KREL="$(uname -r)"
[ -f "/lib/modules/$KREL/load-order" ] \
  || fail "no modules for kernel $KREL in the initramfs (image built for $(cat /etc/fluidlab/kernel-release))"
while read -r mod; do
  insmod "/lib/modules/$KREL/$mod" || fail "insmod $mod"
done < "/lib/modules/$KREL/load-order"

hostname "$HOSTNAME_ARG"

# Network: lo and eth0 (the orchestrator attaches a virtio-net-pci NIC on user networking).
ip link set lo up || fail "ip link set lo up"
i=0
while [ ! -e /sys/class/net/eth0 ]; do
  i=$((i + 1))
  [ "$i" -le 50 ] || fail "no eth0 (attach -device virtio-net-pci,netdev=...)"
  sleep 0.1
done
ip addr add 10.0.2.15/24 dev eth0 || fail "ip addr add 10.0.2.15/24 dev eth0"
ip link set eth0 up || fail "ip link set eth0 up"
ip route add default via 10.0.2.2 || fail "ip route add default via 10.0.2.2"

# Root's authorized key (per image; no password login anywhere).
mkdir -p /root/.ssh
chmod 700 /root /root/.ssh
cp /etc/fluidlab/authorized_keys /root/.ssh/authorized_keys || fail "install authorized_keys"
chmod 600 /root/.ssh/authorized_keys

# ACPI power button -> poweroff (busybox acpid reads /dev/input/event*).
if [ -d /sys/class/input ] && ls /dev/input/event* >/dev/null 2>&1; then
  acpid -c /etc/acpi -l /run/acpid.log -p /run/acpid.pid || echo "fluidlab-init: acpid failed to start; system_powerdown will not work"
else
  echo "fluidlab-init: no input event device; system_powerdown will not work"
fi

# Swap on the given virtio disk.
if [ -n "$SWAP_DEV" ]; then
  i=0
  while [ ! -b "$SWAP_DEV" ]; do
    i=$((i + 1))
    [ "$i" -le 50 ] || fail "swap device $SWAP_DEV not found (attach it as virtio-blk)"
    sleep 0.1
  done
  mkswap "$SWAP_DEV" >/dev/null || fail "mkswap $SWAP_DEV"
  swapon "$SWAP_DEV" || fail "swapon $SWAP_DEV"
  echo "FLUIDLAB-SWAP: $(tail -n +2 /proc/swaps | tr -s ' \t' ' ')"
fi

# SSH: keys only (-s), host key baked into the image (-R as a fallback), port 22.
dropbear -R -s -p 22 -P /run/dropbear.pid -E 2>>/run/dropbear.log || fail "dropbear did not start (see /run/dropbear.log)"
i=0
# Wait until something listens on :22 (0016) in /proc/net/tcp{,6} (state 0A = LISTEN).
until grep -qE '^ *[0-9]+: [0-9A-F]+:0016 [0-9A-F]+:0000 0A' /proc/net/tcp /proc/net/tcp6 2>/dev/null; do
  i=$((i + 1))
  [ "$i" -le 100 ] || fail "dropbear is not listening on port 22 (see /run/dropbear.log)"
  sleep 0.05
done

echo "FLUIDLAB-READY"

# Stay alive as PID 1; `wait` is interrupted by the trapped signals and reaps orphans.
while :; do
  sleep 3600 &
  wait $!
done
