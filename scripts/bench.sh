#!/usr/bin/env bash
# make bench: bench/iopf_bench on the series kernel and on the peer (the
# unrewound Debian tree), each in a QEMU boot of its own, then one table.
#
# Usage: bench.sh [RUNS]
#   RUNS  boots per kernel (default 3), alternating series and peer; each
#         figure is the median over the boots. Under TCG the figures are
#         emulated time: compare the two columns, not with hardware.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-3}
logs=$top/build/logs
out=$logs/bench.txt
mkdir -p "$logs"

"$top/scripts/deps.sh"
for v in series upstream; do
	"$top/scripts/variant.sh" "$v" initramfs >"$logs/bench-$v-build.log" 2>&1 ||
		{ tail -30 "$logs/bench-$v-build.log"; exit 1; }
done

: >"$out.raw"
for ((i = 1; i <= runs; i++)); do
	for v in series upstream; do
		echo "bench: $v, boot $i of $runs"
		"$top/scripts/variant.sh" "$v" vm bench \
			>"$logs/bench-$v-$i.log" 2>&1 ||
			{ grep -E 'not ok|FAIL' "$logs/bench-$v-$i.log"; exit 1; }
		sed -nE "s/^ok [0-9]+ - bench: ([a-z0-9_]+) ([0-9]+) (.*)$/$v \1 \2 \3/p" \
			"$logs/bench-$v-$i.log" >>"$out.raw"
	done
done

# One row per case: median per kernel, and the series relative to the peer
python3 - "$out.raw" <<'PY' | tee "$out"
import statistics, sys
vals, units, order = {}, {}, []
for line in open(sys.argv[1]):
    v, case, value, unit = line.split(None, 3)
    if case not in units:
        order.append(case)
    units[case] = unit.strip()
    vals.setdefault((v, case), []).append(int(value))
print("%-12s %12s %12s %9s" % ("case", "series", "peer", "series/peer"))
for case in order:
    s = statistics.median(vals[("series", case)])
    p = statistics.median(vals[("upstream", case)])
    print("%-12s %12s %12s %9.2f   %s" % (case, "%g" % s, "%g" % p, s / p,
                                          units[case]))
PY
echo "bench: table in build/logs/bench.txt, boots in build/logs/bench-*.log"
