#!/usr/bin/env bash
# checkpatch.pl --strict over every patch of the series, with the work tree's
# own checkpatch. One result per patch: ok when it reports no error and no
# warning (CHECKs are listed for the reader; each one left is justified in
# the commit message or the README).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/linux
# FILE_PATH_CHANGES asks, for every patch that adds a file, whether
# MAINTAINERS needs updating: the existing IOMMUFD entry already covers every
# file the series adds (drivers/iommu/iommufd/, include/uapi/linux/iommufd.h,
# Documentation/userspace-api/iommufd.rst, tools/testing/selftests/iommu/),
# so the answer is no and the series leaves MAINTAINERS alone.
# UNKNOWN_COMMIT_ID: build/linux is made from Debian's source tarball and
# has no mainline history, so the commit a Fixes: tag names (a mainline
# commit, whose id was checked against mainline's history)
# cannot be looked up there. Its format is still checked (GIT_COMMIT_ID).
flags="--strict --show-types --color=never -q --ignore FILE_PATH_CHANGES,UNKNOWN_COMMIT_ID"
cache=$top/build/checkpatch-cache
mkdir -p "$cache"
pass=0 fail=0
patches=$(grep -v '^\s*#' "$top/patches/series" | sed '/^\s*$/d')

# A patch whose text and checkpatch did not change keeps its verdict
key() {
	(echo "$flags"; cat "$top/patches/$1" "$src/scripts/checkpatch.pl") |
		sha256sum | cut -d' ' -f1
}

# checkpatch.pl on the patches not in the cache, one per CPU at a time
for p in $patches; do
	k=$(key "$p")
	[ -f "$cache/$k" ] && continue
	while [ "$(jobs -rp | wc -l)" -ge "$(nproc)" ]; do
		wait -n
	done
	# shellcheck disable=SC2086
	(cd "$src" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl \
		$flags "$top/patches/$p" >"$cache/$k.tmp" 2>&1
	 mv "$cache/$k.tmp" "$cache/$k") &
done
wait

for p in $patches; do
	if ! out=$(cat "$cache/$(key "$p")" 2>&1); then
		echo "not ok checkpatch $p # checkpatch.pl left no output"
		fail=$((fail + 1))
		continue
	fi
	if grep -qE '^(ERROR|WARNING):' <<<"$out"; then
		echo "not ok checkpatch $p"
		sed 's/^/#   /' <<<"$out"
		fail=$((fail + 1))
	else
		echo "ok checkpatch $p"
		grep -E '^CHECK:' <<<"$out" | sed 's/^/#   /'
		pass=$((pass + 1))
	fi
done
echo "checkpatch: $pass passed, $fail failed"
[ "$fail" = 0 ]
