#!/usr/bin/env bash
# Usage: [SRC=DIR] scripts/kselftest.sh [VARIANT]
#
# make check's kselftest step: the in-tree iommu selftests run the way kernel
# CI systems run kselftests. They are installed with
#   make -C tools/testing/selftests TARGETS=iommu install INSTALL_PATH=DIR
# (statically, against the kernel's uapi headers, KHDR_INCLUDES as
# scripts/selftests.sh gives them), DIR becomes /tests/kselftest_install of
# an initramfs of its own, and the guest runs the installed run_kselftest.sh
# and nothing else. What is counted is the runner's own TAP, one result per
# program: "ok", "ok ... # SKIP", or "not ok" with the program's exit code or
# "# TIMEOUT N seconds" when it outlived the timeout of the suite's settings
# file, which the runner enforces. Kernel splats fail the step as in every
# boot (scripts/tap.py).
#
# The runner enforces that timeout only through /usr/bin/timeout, which a CI
# root file system has (coreutils) and the busybox initramfs does not: the
# guest side (/tests/kselftest) puts a wrapper of busybox's timeout there
# before it runs the runner, one that reports a timeout as coreutils does,
# and links /dev/stdout, where the runner writes the programs' output.
#
# VARIANT (default series; debug or kcsan to time the suite there) picks
# the kernel, built by scripts/variant.sh; SRC as for variant.sh.
# Log: build/logs/VARIANT-kselftest.log
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
variant=${1:-series}
root=$top/build
[ -z "${SRC:-}" ] || root=$(cd "$(dirname "$SRC")" && pwd)
src=${SRC:-$root/linux}
hdr=$root/out/series
out=$root/out/$variant
work=$out/kselftest-ci
inst=$work/stage/kselftest_install
log=$top/build/logs/$variant-kselftest.log

"$top/scripts/variant.sh" "$variant" kernel
make -s -C "$src" O="$hdr" ARCH=x86_64 headers_install >/dev/null

rm -rf "$work/stage"
mkdir -p "$work/stage"
# -B: lib.mk does not track iommufd_utils.h or the uapi headers (as in
# selftests.sh); LDFLAGS through the environment, so that lib.mk's rules
# still put the libraries after the objects of a static link
LDFLAGS=-static make -B -j"$(nproc)" -C "$src/tools/testing/selftests" \
	TARGETS=iommu O="$work" KHDR_INCLUDES="-isystem $hdr/usr/include" \
	install INSTALL_PATH="$inst"
for p in "$inst"/iommu/*; do
	if [ -x "$p" ] && file "$p" | grep -q 'dynamically linked'; then
		echo "kselftest.sh: $p is not static" >&2
		exit 1
	fi
done
echo "kselftest.sh: installed $(grep -c . "$inst/kselftest-list.txt")" \
	"programs in $inst, settings: $(tr '\n' ' ' <"$inst/iommu/settings")"

cat >"$work/stage/kselftest" <<'GUEST'
#!/bin/sh
# Run by guest/init: the installed kselftests, by their own runner, which
# writes to /dev/stdout (udev's link, not devtmpfs's)
[ -e /dev/stdout ] || ln -s /proc/self/fd/1 /dev/stdout
if [ ! -x /usr/bin/timeout ]; then
	mkdir -p /usr/bin
	cat >/usr/bin/timeout <<'TIMEOUT'
#!/bin/sh
# coreutils' timeout as kselftest's runner.sh calls it, from busybox's:
# --foreground is what busybox does anyway, and a program it ended with
# SIGTERM (143) is reported as coreutils does (124)
[ "$1" = --foreground ] && shift
busybox timeout "$@"
rc=$?
[ "$rc" = 143 ] && rc=124
exit "$rc"
TIMEOUT
	chmod 755 /usr/bin/timeout
fi
exec /tests/kselftest_install/run_kselftest.sh
GUEST
chmod 755 "$work/stage/kselftest"
"$top/scripts/initramfs.sh" "$work/stage" "$work/initramfs.cpio.gz"

# The runner's timeout for each program, and the guest's for all of them
per=$(sed -n 's/^timeout=//p' "$inst/iommu/settings")
n=$(grep -c . "$inst/kselftest-list.txt")
all=$(( ${per:-45} * n + 60 ))
mkdir -p "$(dirname "$log")"
rc=0
VM_APPEND="iopf.timeout=$all ${VM_APPEND:-}" "$top/scripts/vm.sh" \
	"$out/arch/x86/boot/bzImage" "$work/initramfs.cpio.gz" "$log" check \
	$(( all + 300 )) || rc=$?
python3 "$top/scripts/tap.py" "$log" || rc=1
exit $rc
