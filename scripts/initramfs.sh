#!/bin/bash
# Usage: scripts/initramfs.sh TESTDIR OUTFILE [DEMODIR [BENCHDIR]]
#
# Gzip'd newc cpio: /init (guest/init), /bin/busybox (static; applet
# symlinks are made by /init at boot), TESTDIR/* as /tests, DEMODIR/* as
# /demo, BENCHDIR/* as /bench. Byte-reproducible: sorted entries, uid/gid 0,
# fixed mtimes, gzip -n. An empty DEMODIR ("") leaves /demo empty.
# Env: COMPATDIR=DIR  DIR/* as /compat (the compatibility program,
#                     scripts/compat.sh); unset or empty: /compat is empty
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 4 ]; then
	echo "usage: $0 TESTDIR OUTFILE [DEMODIR [BENCHDIR]]" >&2
	exit 2
fi
TESTDIR=$1
OUTFILE=$2
DEMODIR=${3:-}
BENCHDIR=${4:-}
HERE=$(dirname "$(realpath "$0")")
BUSYBOX=${BUSYBOX:-/bin/busybox}

[ -d "$TESTDIR" ] || { echo "initramfs.sh: no such dir: $TESTDIR" >&2; exit 2; }
for d in "$DEMODIR" "$BENCHDIR"; do
	[ -z "$d" ] || [ -d "$d" ] || { echo "initramfs.sh: no such dir: $d" >&2; exit 2; }
done
file -L "$BUSYBOX" | grep -q 'statically linked' ||
	{ echo "initramfs.sh: $BUSYBOX is not static (apt install busybox-static)" >&2; exit 1; }

STAGE=$(mktemp -d)
trap 'rm -rf "$STAGE"' EXIT
mkdir -p "$STAGE"/{bin,dev,proc,sys,tmp,tests,demo,bench}
cp "$BUSYBOX" "$STAGE/bin/busybox"
cp "$HERE/../guest/init" "$STAGE/init"
chmod 755 "$STAGE/init" "$STAGE/bin/busybox"
cp -a "$TESTDIR/." "$STAGE/tests/"
[ -z "$DEMODIR" ] || cp -a "$DEMODIR/." "$STAGE/demo/"
[ -z "$BENCHDIR" ] || cp -a "$BENCHDIR/." "$STAGE/bench/"
if [ -n "${COMPATDIR:-}" ]; then
	[ -d "$COMPATDIR" ] || { echo "initramfs.sh: no such dir: $COMPATDIR" >&2; exit 2; }
	mkdir -p "$STAGE/compat"
	cp -a "$COMPATDIR/." "$STAGE/compat/"
fi
# The kernel opens /dev/console before /init runs (devtmpfs is mounted by
# /init later); without the node (needs root) /init reopens it itself.
mknod -m 600 "$STAGE/dev/console" c 5 1 2>/dev/null || true

find "$STAGE" -exec touch -h -d @0 {} +
mkdir -p "$(dirname "$OUTFILE")"
(cd "$STAGE" && find . -mindepth 1 | LC_ALL=C sort |
	cpio --quiet -o -H newc -R 0:0 --reproducible) | gzip -n -6 > "$OUTFILE.tmp"
mv "$OUTFILE.tmp" "$OUTFILE"
echo "initramfs.sh: $OUTFILE ($(du -h "$OUTFILE" | cut -f1))"
