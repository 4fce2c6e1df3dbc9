#!/usr/bin/env bash
# Prove the series is bisectable: check out each commit of build/linux after
# base in a worktree of its own (build/bisect/linux) and build the kernel and
# the iommu selftests there, in order, incrementally, then drivers/iommu/iommufd
# again with W=1, which must print no warning (config/known-warnings aside).
# A commit whose tree was already proven is skipped, so a second run only
# builds what changed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
main=$top/build/linux
root=$top/build/bisect
src=$root/linux
out=$root/out/series
seen=$root/verified-w1
export CCACHE_BASEDIR=$top/build

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

pass=0 fail=0
for c in $(git -C "$main" rev-list --reverse base..HEAD); do
	subject=$(git -C "$main" log -1 --format=%s "$c")
	tree=$(git -C "$main" rev-parse "$c^{tree}")
	if grep -qx "$tree" "$seen"; then
		echo "ok bisect $subject # built before"
		pass=$((pass + 1))
		continue
	fi
	git -C "$src" checkout -q --detach "$c"
	log=$root/build.log
	if "$top/scripts/kernel.sh" "$src" "$out" "$top/config/base.config" \
		>"$log" 2>&1 &&
	   "$top/scripts/selftests.sh" "$src" "$out" "$out/tests" >>"$log" 2>&1 &&
	   w1_clean >>"$log" 2>&1; then
		echo "ok bisect $subject"
		echo "$tree" >>"$seen"
		pass=$((pass + 1))
	else
		echo "not ok bisect $subject"
		tail -30 "$log" | sed 's/^/#   /'
		fail=$((fail + 1))
	fi
done
echo "bisect: $pass passed, $fail failed"
[ "$fail" = 0 ]
