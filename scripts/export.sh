#!/usr/bin/env bash
# Write the work tree's commits back to the project:
#   debian..base   -> base/            (the rewind)
#   base..+NFIX    -> patches/fixes/   the selftest fixes, a series of their own
#   the rest       -> patches/         the feature series
# and patches/series, the order 'make tree' applies them in. Each of the two
# series gets a cover letter (0000-cover-letter.patch) whose subject and text
# are kept from the one already there; its shortlog and diffstat are made
# anew. NFIX is the number of patches in patches/fixes/ (FIXES=N overrides).
# Deterministic: no commit hashes, no git version, fixed abbreviations, the
# cover letter dated like the last patch, so exporting an unchanged tree
# changes no file.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
dir=$top/build/linux
[ -d "$dir/.git" ] || { echo "export: no build/linux; run make tree" >&2; exit 1; }
if [ -n "$(git -C "$dir" status --porcelain --untracked-files=no)" ]; then
	echo "export: build/linux has uncommitted edits; commit them first" >&2
	exit 1
fi

nfix=${FIXES:-$(find "$top/patches/fixes" -name '0*.patch' ! -name '0000-*' 2>/dev/null | wc -l)}
fixes_end=base
[ "$nfix" = 0 ] || fixes_end=$(git -C "$dir" rev-list --reverse base..HEAD | sed -n "${nfix}p")
[ -n "$fixes_end" ] || { echo "export: fewer than $nfix commits after base" >&2; exit 1; }

fp() {
	git -C "$dir" format-patch -q --zero-commit --no-signature --abbrev=12 \
		--subject-prefix=PATCH -o "$2" "${@:3}" "$1"
}

# Put the subject and text of the old cover letter $2 into the new one $1,
# and date it like the last patch of its series.
cover() {
	python3 - "$1" "$2" <<-'PY'
		import re, sys, glob, os
		new, old = sys.argv[1], sys.argv[2]
		s = open(new).read()
		if os.path.exists(old):
		    o = open(old).read()
		    subj = re.search(r'^Subject: \[PATCH[^\]]*\] (.*(?:\n .*)*)', o, re.M).group(1)
		    body = o.split('\n\n', 1)[1]
		    blurb = re.split(r'\n\n[^\n]+ \(\d+\):\n', body, maxsplit=1)[0]
		    s = s.replace('*** SUBJECT HERE ***', subj)
		    s = s.replace('*** BLURB HERE ***', blurb.strip('\n'))
		d = os.path.dirname(new)
		last = sorted(p for p in glob.glob(d + '/0*.patch') if p != new)[-1]
		date = re.search(r'^Date: .*$', open(last).read(), re.M).group(0)
		s = re.sub(r'^Date: .*$', date, s, count=1, flags=re.M)
		open(new, 'w').write(s)
	PY
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fp debian..base "$tmp/base"
if [ "$nfix" != 0 ]; then
	fp "base..$fixes_end" "$tmp/fixes" --cover-letter
	cover "$tmp/fixes/0000-cover-letter.patch" "$top/patches/fixes/0000-cover-letter.patch"
fi
fp "$fixes_end..HEAD" "$tmp/patches" --cover-letter
cover "$tmp/patches/0000-cover-letter.patch" "$top/patches/0000-cover-letter.patch"

rm -f "$top"/base/*.patch "$top"/patches/*.patch "$top"/patches/fixes/*.patch
cp "$tmp"/base/*.patch "$top/base/"
if [ "$nfix" != 0 ]; then
	mkdir -p "$top/patches/fixes"
	cp "$tmp"/fixes/*.patch "$top/patches/fixes/"
fi
cp "$tmp"/patches/*.patch "$top/patches/"
{
	echo "# The series, in order; 'make tree' applies them on top of base/."
	echo "# fixes/: selftest fixes for 6.12.y, a series of their own."
	(cd "$top/patches" && ls -1 -- fixes/0*.patch 2>/dev/null | grep -v /0000- || true)
	(cd "$top/patches" && ls -1 -- 0*.patch | grep -v '^0000-' || true)
} >"$top/patches/series"
git -C "$dir" format-patch --stdout base..HEAD | git patch-id --stable |
	cut -d' ' -f1 >"$dir/.git/iopf-exported"
echo "export: $nfix + $(grep -vc '^#\|^fixes/' "$top/patches/series") patches in patches/"
