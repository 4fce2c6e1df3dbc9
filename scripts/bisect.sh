#!/usr/bin/env bash
# Prove the series is bisectable: check out each commit of build/linux after
# base in a worktree of its own (build/bisect/linux) and build the kernel and
# the iommu selftests there, in order, incrementally, then drivers/iommu/iommufd
# again with W=1, which must print no warning (config/known-warnings aside).
# A commit whose tree was already proven is skipped, so a second run only
# builds what changed. The work tree is left at the last commit checked,
# build/linux's HEAD, so make check can boot the kernel built here.
#
# Within a run, a part whose inputs a commit does not touch is not built
# again: a commit that changes only the selftests and Documentation text
# leaves the kernel's inputs as they were in the last commit whose kernel was
# built (and found W=1 clean), so its kernel is that one; a commit that
# changes nothing under tools/, include/uapi/ or the mock's iommufd_test.h
# leaves the selftests' inputs as they were. The log says which part each
# commit built.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
main=$top/build/linux
root=$top/build/bisect
src=$root/linux
out=$root/out/series
seen=$root/verified-w1
. "$top/scripts/ccache-env.sh"

mkdir -p "$root"
touch "$seen"
if [ ! -d "$src" ]; then
	git -C "$main" worktree prune
	git -C "$main" worktree add -q --detach "$src" base
fi

# drivers/iommu/iommufd of the checked out commit with W=1: no new warning
w1_clean() {
	local log=$root/w1.log
	rm -f "$out"/drivers/iommu/iommufd/*.o
	make -s -C "$src" O="$out" ARCH=x86_64 CC="ccache gcc" -j"$(nproc)" W=1 \
		drivers/iommu/iommufd/ >"$log" 2>&1 || return 1
	! grep -E 'warning:' "$log" |
		grep -v -F -f <(grep -v '^#' "$top/config/known-warnings") |
		grep . | sed 's/^/W=1: /'
}

# Does anything the kernel build reads differ between commits $1 and $2?
kernel_inputs_differ() {
	git -C "$main" diff --name-only "$1" "$2" |
		grep -qvE '^(tools/testing/|Documentation/.*\.rst$|MAINTAINERS$)'
}

# Does anything the selftests' build reads differ between commits $1 and $2?
selftest_inputs_differ() {
	git -C "$main" diff --name-only "$1" "$2" |
		grep -qE '^(tools/|include/uapi/|drivers/iommu/iommufd/iommufd_test\.h$)'
}

# build_commit COMMIT: prove it, building only the parts it changed
build_commit() {
	local c=$1 built= t0=$SECONDS
	if [ -z "$kernel_ok" ] || kernel_inputs_differ "$kernel_ok" "$c"; then
		"$top/scripts/kernel.sh" "$src" "$out" "$top/config/base.config" &&
			w1_clean || return 1
		built="kernel ($((SECONDS - t0)) s)"
		t0=$SECONDS
	fi
	if [ -z "$selftests_ok" ] || selftest_inputs_differ "$selftests_ok" "$c"; then
		"$top/scripts/selftests.sh" "$src" "$out" "$out/tests" || return 1
		built="${built:+$built and }selftests ($((SECONDS - t0)) s)"
	fi
	echo "bisect: built ${built:-nothing new}"
}

pass=0 fail=0
head=$(git -C "$main" rev-parse HEAD)
kernel_ok=		# the last commit whose kernel is proven
selftests_ok=		# the last commit whose selftests are proven
for c in $(git -C "$main" rev-list --reverse "base..$head"); do
	subject=$(git -C "$main" log -1 --format=%s "$c")
	tree=$(git -C "$main" rev-parse "$c^{tree}")
	if grep -qx "$tree" "$seen"; then
		echo "ok bisect $subject # built before"
		pass=$((pass + 1))
		kernel_ok=$c selftests_ok=$c
		continue
	fi
	git -C "$src" checkout -q --detach "$c"
	log=$root/build.log
	if build_commit "$c" >"$log" 2>&1; then
		echo "ok bisect $subject # $(tail -1 "$log" | sed 's/^bisect: //')"
		echo "$tree" >>"$seen"
		pass=$((pass + 1))
		kernel_ok=$c selftests_ok=$c
	else
		echo "not ok bisect $subject"
		tail -30 "$log" | sed 's/^/#   /'
		fail=$((fail + 1))
	fi
done
git -C "$src" checkout -q --detach "$head"
echo "bisect: $pass passed, $fail failed"
[ "$fail" = 0 ]
