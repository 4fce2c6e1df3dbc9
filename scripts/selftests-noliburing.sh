#!/usr/bin/env bash
# Usage: scripts/selftests-noliburing.sh [SRC [OUT]]
#
# liburing is optional for tools/testing/selftests/iommu: its Makefile probes
# for it (check_liburing.sh) and, without it, builds the io_uring cases of
# iommufd_fault_events as tests that skip. Prove that on this machine, which
# has liburing, by hiding it (IOMMU_SELFTEST_NO_LIBURING=1): build the iommu
# selftests of SRC (default build/linux) against the uapi headers in
# OUT/usr/include (default build/out/series, see scripts/kernel.sh) into a
# scratch dir, statically as scripts/selftests.sh does, and check that
#   1  every program of TEST_GEN_PROGS builds
#   2  iommufd_fault_events has no liburing in it and still lists its io_uring
#      cases (they skip when run)
# Prints TAP-ish "ok N - ..." / "not ok N - ..." lines, then
# "N passed, N failed"; exits non-zero on any failure.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
SRC=$(realpath "${1:-$top/build/linux}")
OUT=$(realpath "${2:-$top/build/out/series}")
DIR=$SRC/tools/testing/selftests/iommu
pass=0 fail=0

result() {
	local n=$1 ok=$2 what=$3
	if [ "$ok" = 1 ]; then
		echo "ok $n - $what"
		pass=$((pass + 1))
	else
		echo "not ok $n - $what"
		fail=$((fail + 1))
	fi
}

if [ ! -f "$OUT/usr/include/linux/iommufd.h" ]; then
	echo "# $OUT/usr/include missing; run scripts/kernel.sh first"
	result 1 0 "selftests build without liburing"
	result 2 0 "iommufd_fault_events skips its io_uring cases without liburing"
	echo "$pass passed, $fail failed"
	exit 1
fi

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
log=$scratch/build.log
ARGS=(-C "$DIR" OUTPUT="$scratch" KHDR_INCLUDES="-isystem $OUT/usr/include")

# 1: the whole directory builds with liburing hidden
ok=0
if IOMMU_SELFTEST_NO_LIBURING=1 LDFLAGS=-static \
	make -B -j"$(nproc)" "${ARGS[@]}" >"$log" 2>&1; then
	ok=1
	helper=$scratch/print-progs.mk
	# shellcheck disable=SC2016 # $(TEST_GEN_PROGS) is for make
	printf 'include Makefile\n__print_progs:\n\t@echo $(TEST_GEN_PROGS)\n' >"$helper"
	progs=$(IOMMU_SELFTEST_NO_LIBURING=1 make -s "${ARGS[@]}" -f "$helper" \
		__print_progs 2>>"$log")
	[ -n "$progs" ] || { echo "# TEST_GEN_PROGS is empty"; ok=0; }
	for p in $progs; do
		[ -x "$p" ] || { echo "# $p was not built"; ok=0; }
	done
	grep -q 'missing liburing' "$log" ||
		{ echo "# the build did not warn that liburing is missing"; ok=0; }
else
	tail -20 "$log" | sed 's/^/#   /'
fi
result 1 "$ok" "selftests build without liburing"

# 2: no liburing in iommufd_fault_events, its io_uring cases still there
ok=0
events=$scratch/iommufd_fault_events
if [ -x "$events" ]; then
	ok=1
	# Whole outputs first: grep -q would cut a pipe (pipefail)
	syms=$(nm "$events" 2>/dev/null)
	if grep -q 'io_uring_queue_init' <<<"$syms"; then
		echo "# iommufd_fault_events links liburing"
		ok=0
	fi
	# kselftest_harness lists its tests without running any
	list=$("$events" -l 2>&1)
	for t in io_uring io_uring_nonblock io_uring_no_wait; do
		grep -Eq "[[:space:]]${t}[[:space:]]*\$" <<<"$list" ||
			{ echo "# iommufd_fault_events does not list $t"; ok=0; }
	done
	text=$(strings "$events")
	grep -q 'liburing was not found when this test was built' <<<"$text" ||
		{ echo "# iommufd_fault_events lacks the skip message"; ok=0; }
fi
result 2 "$ok" "iommufd_fault_events skips its io_uring cases without liburing"

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
