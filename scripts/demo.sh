#!/usr/bin/env bash
# Build the programs of demo/ statically against a kernel build's uapi headers
# and the iommufd selftest header of its source tree.
# Usage: demo.sh SRC OUT DEST
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$1 out=$2 dest=$3
rm -rf "$dest"
mkdir -p "$dest"
for c in "$top"/demo/*.c; do
	gcc -static -O2 -Wall -Werror -isystem "$out/usr/include" \
		-I "$src/drivers/iommu/iommufd" -o "$dest/$(basename "$c" .c)" "$c"
done
