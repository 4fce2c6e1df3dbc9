#!/usr/bin/env bash
# Install the Debian packages the project needs, once. Runs as root on a
# fresh Debian 12 machine; elsewhere it only says what is missing.
#
# Usage: deps.sh [arm64]
#   arm64  also the arm64 cross toolchain and QEMU, and build/arm64-root:
#          the arm64 busybox-static and liburing-dev packages, unpacked
#          (apt-get download + dpkg-deb -x; nothing of arm64 is installed)
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

pkgs=(linux-source-6.12 linux-config-6.12 build-essential flex bison bc
      libelf-dev libssl-dev cpio busybox-static qemu-system-x86 ccache
      dwarves file python3 python3-ply python3-git kmod sparse liburing-dev git
      python3-sphinx python3-yaml)
[ "${1:-}" = arm64 ] &&
	pkgs+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-system-arm)

# The arm64 packages the guest needs, unpacked (static busybox for the
# initramfs, liburing.a for iommufd_fault_events); refreshed when their
# version changes.
arm64_root() {
	local root=$top/build/arm64-root debs=(busybox-static:arm64 liburing-dev:arm64)
	local want
	want=$(apt-cache policy "${debs[@]}" 2>/dev/null |
		sed -n 's/^ *Candidate: //p' | tr '\n' ' ')
	case $want in ''|*none*)
		echo "deps: no candidate for ${debs[*]}; as root:" \
		     "dpkg --add-architecture arm64 && apt-get update" >&2
		return 1 ;;
	esac
	[ "$(cat "$root/.versions" 2>/dev/null)" = "$want" ] && return 0
	echo "deps: unpacking ${debs[*]} into build/arm64-root"
	rm -rf "$root" "$root.tmp"
	mkdir -p "$root.tmp/debs"
	(cd "$root.tmp/debs" && apt-get download -q "${debs[@]}" 2>&1 |
		grep -v 'unsandboxed' || true)
	for d in "$root.tmp"/debs/*.deb; do
		dpkg-deb -x "$d" "$root.tmp"
	done
	rm -rf "$root.tmp/debs"
	[ -x "$root.tmp/bin/busybox" ] && [ -f "$root.tmp/usr/include/liburing.h" ] ||
		{ echo "deps: arm64 packages incomplete" >&2; return 1; }
	echo "$want" >"$root.tmp/.versions"
	mv "$root.tmp" "$root"
}

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
foreign=0
if [ "${1:-}" = arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
	foreign=1
fi
if [ ${#missing[@]} -eq 0 ] && [ $foreign = 0 ]; then
	[ "${1:-}" = arm64 ] && arm64_root
	exit 0
fi

what=${missing[*]}
[ $foreign = 1 ] && what+="${what:+ }(and dpkg --add-architecture arm64)"
echo "deps: installing $what"
if [ "$(id -u)" != 0 ]; then
	how=${missing[*]:+apt-get install ${missing[*]}}
	[ $foreign = 1 ] &&
		how="dpkg --add-architecture arm64 && apt-get update${how:+ && $how}"
	echo "deps: run as root, or: $how" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
[ $foreign = 1 ] && dpkg --add-architecture arm64
apt-get update -q
[ ${#missing[@]} -eq 0 ] || apt-get install -y -q "${missing[@]}"
[ "${1:-}" = arm64 ] && arm64_root
exit 0
