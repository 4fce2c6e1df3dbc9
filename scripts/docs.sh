#!/usr/bin/env bash
# The userspace-api book, which carries the fault queue's text
# (Documentation/userspace-api/iommufd.rst) and the kernel-doc of its uAPI
# (include/uapi/linux/iommufd.h), built with Debian's Sphinx: no warning
# may come from those two files. Warnings of other pages of the book are
# the base tree's and are only counted.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=${SRC:-$top/build/linux}
out=$top/build/out/docs
log=$out/htmldocs.log
mkdir -p "$out"

if ! make -s -C "$src" O="$out" -j"$(nproc)" SPHINXDIRS=userspace-api htmldocs \
	>"$log" 2>&1; then
	echo "not ok docs userspace-api # build failed"
	tail -20 "$log" | sed 's/^/#   /'
	echo "docs: 0 passed, 1 failed"
	exit 1
fi
ours=$(grep -E 'WARNING|ERROR' "$log" |
	grep -E 'userspace-api/iommufd\.rst|uapi/linux/iommufd\.h' || true)
others=$(grep -cE 'WARNING|ERROR' "$log")
if [ -n "$ours" ]; then
	echo "not ok docs userspace-api"
	sed 's/^/#   /' <<<"$ours"
	echo "docs: 0 passed, 1 failed"
	exit 1
fi
echo "ok docs userspace-api # $((others)) warnings from other pages"
echo "docs: 1 passed, 0 failed"
