#!/usr/bin/env bash
# Usage: [ARCH=arm64] scripts/harness.sh SRC OUT DEST
#
# Build the project's own test programs, harness/*.c, into DEST, beside the
# iommu selftests that scripts/selftests.sh put there: the guest runs both
# alike (guest/init: every program of /tests, make soak the stress test and
# the fuzzer), and their names are the ones they had in the series, so
# iopf.only= and iopf.skip= globs still pick them.
#
# They are not part of the series (a stress test, a model fuzzer and a test
# of one QEMU device model through vfio-pci are not what a maintainer
# reviews), but they are built as the selftests are: statically, against the
# uapi headers in OUT/usr/include (selftests.sh installs them) and the
# selftests' own headers in SRC (kselftest_harness.h, iommufd_utils.h and
# through it the mock's iommufd_test.h), so they test exactly the tree the
# selftests test.
# With ARCH=arm64 they are cross built, as demo.sh does.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 SRC OUT DEST" >&2
	exit 2
fi
top=$(cd "$(dirname "$0")/.." && pwd)
src=$(realpath "$1") out=$(realpath "$2") dest=$3
[ -f "$out/usr/include/linux/iommufd.h" ] ||
	{ echo "harness.sh: no uapi headers in $out/usr/include (run selftests.sh)" >&2; exit 1; }
cc=gcc
[ "${ARCH:-}" = arm64 ] && cc=aarch64-linux-gnu-gcc
mkdir -p "$dest"
for c in "$top"/harness/*.c; do
	p=$dest/$(basename "$c" .c)
	# The selftests' flags (their Makefile), -Werror as for demo/
	"$cc" -static -O2 -Wall -Werror -Wno-unused-function -pthread \
		-isystem "$out/usr/include" \
		-I "$src/tools/testing/selftests" \
		-I "$src/tools/testing/selftests/iommu" \
		-o "$p" "$c"
	echo "harness.sh: $p"
done
