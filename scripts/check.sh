#!/usr/bin/env bash
# make check: every test of the project, then one closing line
#   N passed, N failed, N skipped
#
#   vm         the kernel with the series, booted in QEMU with an emulated
#              VT-d, running every program of tools/testing/selftests/iommu
#              but the VT-d ones; a kernel splat anywhere fails it
#   vm-vtd     the VT-d (vfio-pci) programs, in a boot with intel_iommu=on
#   kselftest  the in-tree suite as kernel CI runs it: installed by its
#              Makefile, run by run_kselftest.sh (scripts/kselftest.sh)
#   compat     compat/iopf_compat.c on the series kernel and on the peer
#              (the unmodified Debian tree): a case whose results differ
#              and that compat/differences does not list fails it, and so
#              does a listed case that no longer differs (scripts/compat.sh)
#   debug,     the same two on a kernel with KASAN, lockdep, kmemleak,
#   debug-vtd  DEBUG_OBJECTS/LIST and the hung task detector
#   kcsan      the fault queue programs (iommufd_fault, _events, _stress,
#              _fuzz) on a kernel with KCSAN; a data race reported in the
#              series' code fails it, others are listed (scripts/tap.py)
#   arm64      the series cross built for arm64 and booted on QEMU virt with
#              an emulated SMMUv3 (TCG): every program, the vfio one against
#              the real SMMUv3 driver; a kernel splat anywhere fails it
#   noliburing the iommu selftests build without liburing (the io_uring
#              cases of iommufd_fault_events then skip)
#   checkpatch checkpatch.pl --strict on every patch
#   docs       the userspace-api book builds with no warning from the
#              fault queue's text or uAPI kernel-doc
#   bisect     every patch of the series builds on its own, and each one's
#              drivers/iommu/iommufd is W=1 clean
#
# ARCH=arm64 (make check ARCH=arm64) runs the arm64 step alone. SRC=DIR
# builds and boots the kernel sources in DIR instead of build/linux (see
# variant.sh); build/linux is then left alone.
#
# When build/linux has no uncommitted change, bisect runs first and the
# other steps build and boot its work tree (build/bisect/linux), which it
# leaves at the same commit: the kernel bisect built for the last commit
# that changed it is then the vm step's, rebuilt only where W=1 differs,
# instead of a second kernel built from nothing. With uncommitted changes
# the steps build build/linux as it is, and bisect runs last.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
logs=$top/build/logs
mkdir -p "$logs"
passed=0 failed=0 skipped=0
# What failed, repeated at the end where a truncated CI log still shows it
failures=
# Each step's time, repeated in the summary
times=
start=$(date +%s)

# Add the counts from a step's "N passed, N failed[, N skipped]" line.
count() {
	local line p f s
	line=$(grep -E '^([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	p=$(sed -nE 's/.*\b([0-9]+) passed.*/\1/p' <<<"$line")
	f=$(sed -nE 's/.*\b([0-9]+) failed.*/\1/p' <<<"$line")
	s=$(sed -nE 's/.*\b([0-9]+) skipped.*/\1/p' <<<"$line")
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	skipped=$((skipped + ${s:-0}))
	[ -n "$line" ]
}

step() {
	local name=$1 t0=$(date +%s) rc
	shift
	echo "=== $name"
	"$@" >"$logs/check-$name.log" 2>&1
	rc=$?
	if ! count "$logs/check-$name.log"; then
		# A step that stopped before it could count (a build error) is
		# one failure, shown in full.
		failed=$((failed + 1))
		failures+="$name: stopped before counting (build/logs/check-$name.log)"$'\n'
		tail -40 "$logs/check-$name.log"
	elif [ $rc != 0 ]; then
		# The VM steps' parser says FAIL: per failure; the others
		# print TAP's not ok
		what=$(grep -E '^ *FAIL:' "$logs/check-$name.log" ||
			grep -E '^not ok' "$logs/check-$name.log")
		failures+=$(head -10 <<<"$what" | sed -E "s/^ */$name: /")
		failures+=$'\n'
		grep -E '^not ok|^#|FAIL|splat|timed out' "$logs/check-$name.log" |
			head -60
	fi
	grep -E '^([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed' \
		"$logs/check-$name.log" | sed 's/^/    /'
	echo "    ($(( $(date +%s) - t0 )) s, log: build/logs/check-$name.log)"
	times+=$(printf '    %-11s %5d s' "$name" $(( $(date +%s) - t0 )))$'\n'
}

"$top/scripts/deps.sh" || exit 1
"$top/scripts/deps.sh" arm64 || exit 1
[ -n "${SRC:-}" ] || "$top/scripts/tree.sh" --keep linux || exit 1

if [ "${ARCH:-x86_64}" = arm64 ]; then
	step arm64 "$top/scripts/variant.sh" series vm check
else
	# The sources the steps build: SRC, bisect's work tree or build/linux
	src=${SRC:-}
	if [ -z "$src" ] &&
	   [ -z "$(git -C "$top/build/linux" status --porcelain --untracked-files=no)" ]; then
		step bisect "$top/scripts/bisect.sh"
		src=$top/build/bisect/linux
		echo "    (build/linux is committed: the steps below build" \
			"build/bisect/linux at $(git -C "$src" rev-parse --short HEAD))"
	fi
	root=$(dirname "${src:-$top/build/linux}")
	v() { env ${src:+SRC="$src"} "$top/scripts/variant.sh" "$@"; }
	step vm v series vm check
	step vm-vtd v series vm vtd
	step kselftest env ${src:+SRC="$src"} "$top/scripts/kselftest.sh"
	step compat env ${src:+SRC="$src"} "$top/scripts/compat.sh"
	step debug v debug vm check
	step debug-vtd v debug vm vtd
	step kcsan v kcsan vm check
	step arm64 env ARCH=arm64 ${src:+SRC="$src"} \
		"$top/scripts/variant.sh" series vm check
	step warnings env SERIES_CONFIG="$root/out/series/.config" \
		"$top/scripts/warnings.sh"
	step noliburing "$top/scripts/selftests-noliburing.sh" \
		"${src:-$top/build/linux}" "$root/out/series"
	step checkpatch "$top/scripts/checkpatch.sh"
	step docs "$top/scripts/docs.sh"
	[ "$src" = "$top/build/bisect/linux" ] ||
		step bisect "$top/scripts/bisect.sh"
fi

if [ -n "$failures" ]; then
	echo "failed:"
	printf '%s' "$failures" | sed '/^$/d; s/^/    /'
fi
echo "tested: series $(git -C "$top" describe --always --dirty 2>/dev/null) on" \
	"linux-source-6.12 $(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null)" \
	"(made against $(cat "$top/base/VERSION"))"
echo "step times:"
printf '%s' "$times"
echo "make check took $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
