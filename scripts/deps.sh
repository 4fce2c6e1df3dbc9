#!/usr/bin/env bash
# Install the Debian packages the project needs, once. Runs as root on a
# fresh Debian 12 machine; elsewhere it only says what is missing.
set -euo pipefail

pkgs=(linux-source-6.12 linux-config-6.12 build-essential flex bison bc
      libelf-dev libssl-dev cpio busybox-static qemu-system-x86 ccache
      dwarves file python3 python3-ply python3-git kmod sparse liburing-dev git)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "deps: installing ${missing[*]}"
if [ "$(id -u)" != 0 ]; then
	echo "deps: run as root, or: apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q "${missing[@]}"
