#!/bin/sh
# Installs guestnet on an Android device over adb.
#
#   deploy/android/install.sh --node PATH [--serial SERIAL] [--guest-root DIR]
#
#   --node PATH        a Node.js binary (20, 22 or 24) for the device's ABI; Android ships none
#   --serial SERIAL    which device (default: the only one, as adb picks it)
#   --guest-root DIR   also install the guest agent into a guest's root file system on the
#                      device (for example a Waydroid or LXC rootfs), as DIR/system/etc/init and
#                      DIR/data/local/guestnet
#
# Needs a userdebug or eng build (adb root, adb remount) and the bundles: npm run bundle.
set -eu

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
fail() { echo "install.sh: $*" >&2; exit 1; }

here=$(cd "$(dirname "$0")" && pwd)
dist="$here/../dist"
node=''
serial=''
guest_root=''
while [ $# -gt 0 ]; do
  case "$1" in
    --node) node=${2:?--node needs a path}; shift 2 ;;
    --serial) serial=${2:?--serial needs a serial}; shift 2 ;;
    --guest-root) guest_root=${2:?--guest-root needs a directory}; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "install.sh: unknown option '$1'" >&2; usage 2 ;;
  esac
done
[ -n "$node" ] || fail "--node is required: a Node.js binary for the device (Android ships none)"
[ -f "$node" ] || fail "no file $node"
for bundle in host-agent.cjs guest-agent.cjs; do
  [ -f "$dist/$bundle" ] || fail "missing deploy/dist/$bundle: run npm run bundle first"
done
command -v adb >/dev/null 2>&1 || fail "adb is not on PATH"

adb_() { if [ -n "$serial" ]; then adb -s "$serial" "$@"; else adb "$@"; fi; }

dir=/data/local/guestnet
adb_ root >/dev/null
adb_ wait-for-device
adb_ remount >/dev/null || fail "adb remount failed: /system/etc/init needs a userdebug or eng build"
adb_ shell mkdir -p "$dir/run"
adb_ shell chmod 0700 "$dir/run"
adb_ push "$node" "$dir/node" >/dev/null
# host-agent.cjs requires its shared, engine and winston files (host-agent-*-<hash>.cjs) from beside it.
adb_ push "$dist"/host-agent*.cjs "$dist/guest-agent.cjs" "$dir/" >/dev/null
adb_ shell chmod 0755 "$dir/node"
# logwrapper tags log lines with the binary's name: run node under ours.
adb_ shell ln -sf node "$dir/guestnet-host"
adb_ push "$here/host.json" "$dir/host.json" >/dev/null
adb_ push "$here/guestnet-host.rc" /system/etc/init/guestnet-host.rc >/dev/null

if [ -n "$guest_root" ]; then
  adb_ shell mkdir -p "$guest_root$dir" "$guest_root/system/etc/init"
  adb_ push "$node" "$guest_root$dir/node" >/dev/null
  adb_ push "$dist/guest-agent.cjs" "$guest_root$dir/" >/dev/null
  adb_ shell chmod 0755 "$guest_root$dir/node"
  adb_ shell ln -sf node "$guest_root$dir/guestnet-guest"
  adb_ push "$here/guestnet-guest.rc" "$guest_root/system/etc/init/guestnet-guest.rc" >/dev/null
fi

cat <<DONE
installed in $dir and /system/etc/init/guestnet-host.rc
start:   adb shell start guestnet-host        (or reboot: it starts at boot_completed)
check:   adb shell $dir/node $dir/host-agent.cjs status --config $dir/host.json
         adb shell $dir/node $dir/host-agent.cjs doctor --config $dir/host.json
logs:    adb logcat -s guestnet-host
attach:  $dir/node $dir/host-agent.cjs attach <guest pid> --config $dir/host.json
         ($dir/host.json: Android's iptables, the eth0 name EthernetService manages, these paths)
DONE
if [ -n "$guest_root" ]; then
  echo "guest:   agent and guestnet-guest.rc in $guest_root; bind-mount $dir/run/guest read-only into the guest as /run/guestnet"
fi
