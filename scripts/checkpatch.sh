#!/usr/bin/env bash
# checkpatch.pl --strict over every patch of the series, with the work tree's
# own checkpatch. One result per patch: ok when it reports no error and no
# warning (CHECKs are listed for the reader; each one left is justified in
# the commit message or the README).
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/linux
pass=0 fail=0
while read -r p; do
	out=$(cd "$src" && PATH=/usr/bin:$PATH perl scripts/checkpatch.pl --strict --no-signoff \
		--show-types --color=never -q "$top/patches/$p" 2>&1)
	if grep -qE '^(ERROR|WARNING):' <<<"$out"; then
		echo "not ok checkpatch $p"
		sed 's/^/#   /' <<<"$out"
		fail=$((fail + 1))
	else
		echo "ok checkpatch $p"
		grep -E '^CHECK:' <<<"$out" | sed 's/^/#   /'
		pass=$((pass + 1))
	fi
done < <(grep -v '^\s*#' "$top/patches/series" | sed '/^\s*$/d')
echo "checkpatch: $pass passed, $fail failed"
[ "$fail" = 0 ]
