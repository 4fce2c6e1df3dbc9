#!/usr/bin/env bash
# Write the work tree's commits back to the project:
#   debian..base  -> base/      (the rewind)
#   base..HEAD    -> patches/   (the series) and patches/series
# Deterministic: no commit hashes, no git version, fixed abbreviations, so
# exporting an unchanged tree changes no file.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/linux
[ -d "$dir/.git" ] || { echo "export: no build/linux; run make tree" >&2; exit 1; }
if [ -n "$(git -C "$dir" status --porcelain --untracked-files=no)" ]; then
	echo "export: build/linux has uncommitted edits; commit them first" >&2
	exit 1
fi

fp() {
	git -C "$dir" format-patch -q --zero-commit --no-signature --abbrev=12 \
		--subject-prefix=PATCH -o "$2" "$1"
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fp debian..base "$tmp/base"
fp base..HEAD "$tmp/patches"

rm -f "$top"/base/*.patch "$top"/patches/*.patch
cp "$tmp"/base/*.patch "$top/base/"
[ -z "$(ls "$tmp/patches")" ] || cp "$tmp"/patches/*.patch "$top/patches/"
{
	echo "# The series, in order; 'make tree' applies it on top of base/."
	(cd "$top/patches" && ls -1 -- *.patch 2>/dev/null || true)
} >"$top/patches/series"
git -C "$dir" format-patch --stdout base..HEAD | git patch-id --stable |
	cut -d' ' -f1 >"$dir/.git/iopf-exported"
echo "export: $(ls "$top"/patches/*.patch 2>/dev/null | wc -l) patches in patches/"
