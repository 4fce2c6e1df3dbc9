#!/usr/bin/env bash
# Build the kernel work trees from the Debian source package and the project's
# patches:
#
#   build/linux      debian (tarball) -> base (base/*.patch, the rewind)
#                    -> patches/series, on branch "work"
#   build/upstream/linux  debian -> the first patch of the series only: the peer,
#                    upstream's own fault queue with the selftests buildable
#
# Usage: tree.sh [--keep] [linux|upstream]
#   --keep  a work tree holding commits or edits that are not in patches/ is
#           used as it is (with a warning) instead of being an error; this is
#           what the build and test targets do, so a developer can test work
#           before exporting it.
# FORCE=1 throws such work away and rebuilds the tree from patches/.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=$top/build
tarball=/usr/src/linux-source-6.12.tar.xz
keep=0
[ "${1:-}" = --keep ] && { keep=1; shift; }
which=${1:-linux}

log() { echo "tree: $*"; }

# The package version the series was made against, and the one installed.
want=$(cat "$top/base/VERSION")
have=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null || true)
if [ "$have" != "$want" ]; then
	log "note: series made against linux-source-6.12 $want, installed is" \
	    "${have:-none}; trying anyway"
fi

series_files() {
	grep -v '^\s*#' "$top/patches/series" | sed '/^\s*$/d' |
		sed "s|^|$top/patches/|"
}

patch_ids() { git patch-id --stable | cut -d' ' -f1; }

exported_ids() { series_files | xargs -r cat | patch_ids; }

tree_ids() {
	git -C "$1" format-patch --stdout base..HEAD 2>/dev/null | patch_ids
}

# Unpack the tarball and commit it as the "debian" tag. The tarball's
# .gitignore ends with Debian packaging rules that ignore every top-level
# entry; they are dropped so that git sees new files like any kernel tree.
make_debian() {
	local dir=$build/linux
	log "unpacking $tarball (about a minute)"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -C "$dir.tmp" -xf "$tarball" --strip-components=1
	python3 - "$dir.tmp/.gitignore" <<-'PY'
		import sys
		p = sys.argv[1]
		s = open(p).read()
		s = s[:s.index('#\n# Debian packaging')].rstrip('\n') + '\n'
		open(p, 'w').write(s)
	PY
	git -C "$dir.tmp" init -q
	git -C "$dir.tmp" config user.name "IOPF Team"
	git -C "$dir.tmp" config user.email "iopf@example.org"
	git -C "$dir.tmp" config core.abbrev 12
	# Forced: the kernel's own rules (".*") would hide files the tarball has
	git -C "$dir.tmp" add -f -A
	GIT_AUTHOR_DATE='2026-01-01T00:00:00Z' \
	GIT_COMMITTER_DATE='2026-01-01T00:00:00Z' \
		git -C "$dir.tmp" commit -q -m "Debian linux-source-6.12 $have"
	git -C "$dir.tmp" tag debian
	mv "$dir.tmp" "$dir"
}

apply_base_and_series() {
	local dir=$build/linux
	git -C "$dir" checkout -q -f -B work debian
	git -C "$dir" clean -q -fdx
	git -C "$dir" am -q "$top"/base/*.patch
	git -C "$dir" tag -f base >/dev/null
	series_files | xargs -r git -C "$dir" am -q
	tree_ids "$dir" >"$dir/.git/iopf-exported"
	log "build/linux: base + $(series_files | wc -l) patches"
}

do_linux() {
	local dir=$build/linux
	if [ ! -d "$dir/.git" ]; then
		make_debian
		apply_base_and_series
		return
	fi
	local tree exp dirty
	tree=$(tree_ids "$dir")
	exp=$(exported_ids)
	dirty=$(git -C "$dir" status --porcelain --untracked-files=no)
	if [ "$tree" = "$exp" ] && [ -z "$dirty" ]; then
		log "build/linux is up to date with patches/"
		return
	fi
	# Work that "make export" has not written out yet is never thrown away
	# without FORCE=1.
	if [ -n "$dirty" ] ||
	   [ "$tree" != "$(cat "$dir/.git/iopf-exported" 2>/dev/null)" ]; then
		if [ "${FORCE:-0}" = 1 ]; then
			log "FORCE=1: discarding work in build/linux"
		elif [ $keep = 1 ]; then
			log "warning: build/linux has work not in patches/;" \
			    "using it as it is (commit, then make export)"
			return
		else
			log "build/linux has commits or edits not in patches/:"
			log "commit them and run 'make export', or FORCE=1 to discard"
			exit 1
		fi
	fi
	apply_base_and_series
}

do_upstream() {
	do_linux
	local dir=$build/upstream/linux first
	first=$(series_files | head -1)
	if [ -d "$dir" ] &&
	   [ "$(git -C "$dir" log -1 --format=%s 2>/dev/null)" = \
	     "$(sed -n 's/^Subject: \[PATCH[^]]*\] //p' "$first")" ] &&
	   [ -z "$(git -C "$dir" status --porcelain --untracked-files=no)" ]; then
		log "build/upstream/linux is up to date"
		return
	fi
	git -C "$build/linux" worktree remove -f "$dir" 2>/dev/null || rm -rf "$dir"
	git -C "$build/linux" worktree prune
	mkdir -p "$(dirname "$dir")"
	git -C "$build/linux" worktree add -q --detach "$dir" debian
	# The selftest build fix is made against the rewound tree; upstream's
	# tree differs only in the fault queue bits, so a 3-way apply is enough.
	git -C "$dir" am -q -3 "$first"
	log "build/upstream/linux: debian + $(basename "$first")"
}

"$top/scripts/deps.sh"
case $which in
linux) do_linux ;;
upstream) do_upstream ;;
*) echo "usage: $0 [--keep] [linux|upstream]" >&2; exit 2 ;;
esac
