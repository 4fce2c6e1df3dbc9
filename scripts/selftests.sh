#!/bin/bash
# Usage: [ARCH=arm64] scripts/selftests.sh SRC OUT DEST
#
# Install the uapi headers of SRC in OUT/usr/include (make headers_install,
# incremental: about 40 s in a new OUT, nothing when they are current; OUT
# needs no config, and variants that share SRC and ARCH may share OUT), build
# SRC/tools/testing/selftests/iommu statically against them, then copy every
# program in the Makefile's TEST_GEN_PROGS into DEST (recreated each run, so
# programs dropped by a patch do not linger). Objects live in
# OUT/kselftest/iommu. scripts/harness.sh then adds the project's own test
# programs (harness/) to DEST.
# With ARCH=arm64 they are cross built with aarch64-linux-gnu-gcc, and
# liburing comes from ARM64_ROOT (build/arm64-root, see deps.sh arm64).
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 SRC OUT DEST" >&2
	exit 2
fi
SRC=$(realpath "$1")
mkdir -p "$2"
OUT=$(realpath "$2")
DEST=$3
DIR=$SRC/tools/testing/selftests/iommu
BUILD=$OUT/kselftest/iommu
MARK=.iommu-selftests

hdr_arch=x86_64
[ "${ARCH:-}" = arm64 ] && hdr_arch=arm64
make -s -C "$SRC" O="$OUT" ARCH=$hdr_arch headers_install >/dev/null
# DEST gets wiped: refuse to wipe a directory this script did not create.
if [ -d "$DEST" ] && [ -n "$(ls -A "$DEST")" ] && [ ! -f "$DEST/$MARK" ]; then
	echo "selftests.sh: $DEST is not empty and not ours; refusing to wipe it" >&2
	exit 1
fi

mkdir -p "$BUILD"
ARGS=(-C "$DIR" OUTPUT="$BUILD" KHDR_INCLUDES="-isystem $OUT/usr/include")
LDFLAGS=-static
if [ "${ARCH:-}" = arm64 ]; then
	ROOT=${ARM64_ROOT:-$(dirname "$(realpath "$0")")/../build/arm64-root}
	[ -f "$ROOT/usr/include/liburing.h" ] ||
		{ echo "selftests.sh: no arm64 liburing in $ROOT; run scripts/deps.sh arm64" >&2; exit 1; }
	# The kernel's uapi headers first, the arm64 liburing's after them
	ARGS=(-C "$DIR" OUTPUT="$BUILD" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
	      KHDR_INCLUDES="-isystem $OUT/usr/include -isystem $ROOT/usr/include")
	LDFLAGS="-static -L$ROOT/usr/lib/aarch64-linux-gnu"
fi
# LDFLAGS via the environment, not the command line: a Makefile's own
# `LDFLAGS +=` then still applies, while libs in LDLIBS (-luring, -lpthread)
# land after the objects as a static link needs. CFLAGS is left alone.
# -B: lib.mk's rules do not track iommufd_utils.h, iommufd_test.h or the
# uapi headers, so always rebuild (a few seconds).
LDFLAGS=$LDFLAGS make -B -j"$(nproc)" "${ARGS[@]}"

# Ask make itself for TEST_GEN_PROGS (lib.mk prefixes them with $(OUTPUT)/).
helper=$(mktemp)
trap 'rm -f "$helper"' EXIT
printf 'include Makefile\n__print_progs:\n\t@echo $(TEST_GEN_PROGS)\n' > "$helper"
progs=$(make -s "${ARGS[@]}" -f "$helper" __print_progs)
[ -n "$progs" ] || { echo "selftests.sh: TEST_GEN_PROGS is empty" >&2; exit 1; }

rm -rf "$DEST"
mkdir -p "$DEST"
touch "$DEST/$MARK"
for p in $progs; do
	# A dynamically linked test would not run in the busybox initramfs.
	if file "$p" 2>/dev/null | grep -q 'dynamically linked'; then
		echo "selftests.sh: $p is not static" >&2
		exit 1
	fi
	cp "$p" "$DEST/"
	echo "selftests.sh: $DEST/$(basename "$p")"
done
