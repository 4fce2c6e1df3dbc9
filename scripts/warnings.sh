#!/usr/bin/env bash
# No new compiler or sparse warnings in what the series touches:
#   w1-sparse  drivers/iommu/iommufd with W=1 C=1 (sparse), our config (=y)
#   debian-m   drivers/iommu/iommufd as a module (CONFIG_IOMMUFD=m) with W=1,
#              on Debian's own amd64 6.12 config, as a distro would build it
# The first takes the series' .config from SERIES_CONFIG (default
# build/out/series/.config, which make check points at the output directory
# it booted).
# Warnings the base tree already has are listed in config/known-warnings and
# do not count; any other warning fails the check and is printed.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/linux
known=$top/config/known-warnings
debian_config=/usr/src/linux-config-6.12/config.amd64_none_amd64.xz
. "$top/scripts/ccache-env.sh"
pass=0 fail=0

# Build the iommufd objects in OUT with the extra make arguments given, and
# judge the warnings they print.
judge() {
	local name=$1 out=$2 log
	shift 2
	log=$out/warnings.log
	# Recompile (ccache replays the warnings of a hit), sources untouched
	rm -f "$out"/drivers/iommu/iommufd/*.o
	if ! make -s -C "$src" O="$out" CC="ccache gcc" -j"$(nproc)" "$@" \
		drivers/iommu/iommufd/ >"$log" 2>&1; then
		echo "not ok warnings $name # build failed"
		tail -20 "$log" | sed 's/^/#   /'
		fail=$((fail + 1))
		return
	fi
	local new
	# Only what the series can cause: host tools (genksyms' bison
	# grammar with Debian's config) warn on their own.
	# Paths are absolute, or relative to OUT where ccache rewrote them
	new=$(grep -E 'warning:|error:' "$log" |
		sed -E "s#^$src/##; s#^(\.\./)+linux/##" |
		grep -E '^(drivers/iommu|include/(uapi/)?linux/iommu)' |
		grep -v -F -f <(grep -v '^#' "$known") || true)
	if [ -n "$new" ]; then
		echo "not ok warnings $name"
		sed 's/^/#   /' <<<"$new"
		fail=$((fail + 1))
	else
		echo "ok warnings $name"
		pass=$((pass + 1))
	fi
}

# Our config, everything built in.
out=$top/build/out/warnings
mkdir -p "$out"
series_config=${SERIES_CONFIG:-$top/build/out/series/.config}
if [ ! -f "$out/.config" ] || ! cmp -s "$series_config" "$out/.config"; then
	cp "$series_config" "$out/.config"
	make -s -C "$src" O="$out" CC="ccache gcc" olddefconfig >/dev/null
fi
judge w1-sparse "$out" W=1 C=1

# Debian's config, iommufd as a module.
out=$top/build/out/debian-m
mkdir -p "$out"
if [ ! -f "$out/.config" ]; then
	xz -dc "$debian_config" >"$out/.config"
	"$src/scripts/config" --file "$out/.config" -m IOMMUFD -e IOMMUFD_TEST \
		-e FAULT_INJECTION -e RUNTIME_TESTING_MENU \
		-d MODULE_SIG -d MODULE_SIG_ALL --set-str SYSTEM_TRUSTED_KEYS "" \
		--set-str SYSTEM_REVOCATION_KEYS ""
	make -s -C "$src" O="$out" CC="ccache gcc" olddefconfig >/dev/null
fi
if ! grep -q '^CONFIG_IOMMUFD=m' "$out/.config"; then
	echo "not ok warnings debian-m # CONFIG_IOMMUFD=m did not stick"
	fail=$((fail + 1))
else
	judge debian-m "$out" W=1
fi

echo "warnings: $pass passed, $fail failed"
[ "$fail" = 0 ]
