#!/bin/bash
# Usage: [ARCH=arm64] scripts/kernel.sh SRC OUT FRAGMENT...
#
# Configure (tinyconfig + fragments) and build an x86_64 bzImage out of tree
# in OUT. The uapi headers are scripts/selftests.sh's business: they are
# the same for every config, so a kernel build does not install them.
# Result: OUT/arch/x86/boot/bzImage
# With ARCH=arm64: cross built with Debian's aarch64-linux-gnu-gcc, result
# OUT/arch/arm64/boot/Image.
#
# Incremental: the config step only re-runs when the fragments' contents
# change (sha256 stamp in OUT/.fragments.sha256) or OUT/.config is missing, so
# re-running after editing one .c file recompiles just that file + relinks.
# Kconfig changes in SRC are still picked up by kbuild's own syncconfig.
set -euo pipefail

if [ $# -lt 3 ]; then
	echo "usage: $0 SRC OUT FRAGMENT..." >&2
	exit 2
fi
SRC=$(realpath "$1")
mkdir -p "$2"
OUT=$(realpath "$2")
shift 2
FRAGS=()
for f in "$@"; do
	[ -f "$f" ] || { echo "kernel.sh: no such fragment: $f" >&2; exit 2; }
	FRAGS+=("$(realpath "$f")")
done

# ARCH=x86_64 (not the default x86) so tinyconfig starts out 64-bit.
# CC is identical for every invocation so kconfig never sees a compiler change.
case ${ARCH:-x86_64} in
x86_64|x86)
	MAKE=(make -C "$SRC" O="$OUT" ARCH=x86_64 CC="ccache gcc" -j"$(nproc)")
	IMAGE=bzImage IMAGE_PATH=arch/x86/boot/bzImage ;;
arm64)
	MAKE=(make -C "$SRC" O="$OUT" ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
	      CC="ccache aarch64-linux-gnu-gcc" -j"$(nproc)")
	IMAGE=Image IMAGE_PATH=arch/arm64/boot/Image ;;
*) echo "kernel.sh: ARCH must be x86_64 or arm64, not '$ARCH'" >&2; exit 2 ;;
esac

# The stamp covers fragment order + contents.
STAMP="$OUT/.fragments.sha256"
want=$(for f in "${FRAGS[@]}"; do echo "== $f"; cat "$f"; done | sha256sum | cut -d' ' -f1)

if [ ! -f "$OUT/.config" ] || [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
	echo "kernel.sh: configuring $OUT (tinyconfig + ${FRAGS[*]})"
	rm -f "$STAMP"
	"${MAKE[@]}" -s tinyconfig
	"$SRC/scripts/kconfig/merge_config.sh" -m -O "$OUT" "$OUT/.config" "${FRAGS[@]}" >/dev/null
	"${MAKE[@]}" -s olddefconfig
	CONFIGURED=1
else
	CONFIGURED=0
fi

# Verify: the last value each fragment line assigns to a symbol (later
# fragments override earlier ones), if =y or =m, must be in .config.
# =m satisfied by =y is accepted (a built-in user can force it). A symbol
# a fragment says "is not set" must not be =y or =m (something selects it).
verify() {
	local missing
	missing=$(awk '
		FNR == NR { have[$0] = 1; next }
		/^CONFIG_[A-Za-z0-9_]+=/ { split($0, kv, "="); want[kv[1]] = $0; next }
		/^# CONFIG_[A-Za-z0-9_]+ is not set/ { want[$2] = ""; next }
		END {
			for (s in want) {
				w = want[s]
				if (w == "") {
					if ((s "=y") in have) print s "=y (wanted off)"
					if ((s "=m") in have) print s "=m (wanted off)"
					continue
				}
				if (w !~ /=[ym]$/ || (w in have)) continue
				if (w ~ /=m$/ && ((s "=y") in have)) continue
				print w
			}
		}' "$OUT/.config" "${FRAGS[@]}" | sort)
	if [ -n "$missing" ]; then
		echo "kernel.sh: ERROR: fragment options not as asked in $OUT/.config" \
			"(missing dependency, unknown symbol, or selected by another):" >&2
		echo "$missing" | sed 's/^/    /' >&2
		exit 1
	fi
}

# Before the build so a bad fragment fails fast; only a verified config is
# stamped, so a failed verify re-configures next time.
verify
[ "$CONFIGURED" = 1 ] && echo "$want" > "$STAMP"

# The boot image is made without ccache's results: x86's piggy.S takes the
# compressed kernel in with .incbin, which ccache does not see, and its text
# names only the sizes, so a kernel whose compressed size matches an earlier
# one's got that earlier kernel inside its bzImage. CCACHE_RECACHE compiles
# those few objects again, and kbuild sees the same command lines.
"${MAKE[@]}" vmlinux
CCACHE_RECACHE=1 "${MAKE[@]}" "$IMAGE"
# Again after the build: kbuild's syncconfig may have changed .config when
# the tree's Kconfig changed (e.g. a patch adding a dependency).
verify
echo "kernel.sh: built $OUT/$IMAGE_PATH"
