#!/usr/bin/env bash
# Build the programs of demo/ (or of another directory of the project, as
# bench/) statically against a kernel build's uapi headers and the iommufd
# selftest header of its source tree.
# Usage: [ARCH=arm64] demo.sh SRC OUT DEST [DIR]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$1 out=$2 dest=$3 dir=${4:-demo}
rm -rf "$dest"
mkdir -p "$dest"
cc=gcc
[ "${ARCH:-}" = arm64 ] && cc=aarch64-linux-gnu-gcc
# The series' mock device can access memory through its domain
defs=()
test_h=$src/drivers/iommu/iommufd/iommufd_test.h
grep -q IOMMU_TEST_OP_DMA "$test_h" && defs+=(-DHAVE_MOCK_DMA)
# ... and turn off the log of the page responses it receives
grep -q IOMMU_TEST_OP_IOPF_LOG "$test_h" && defs+=(-DHAVE_MOCK_IOPF_LOG)
for c in "$top/$dir"/*.c; do
	"$cc" -static -O2 -Wall -Werror -pthread "${defs[@]}" \
		-isystem "$out/usr/include" \
		-I "$src/drivers/iommu/iommufd" -I "$top/demo" \
		-o "$dest/$(basename "$c" .c)" "$c"
done
