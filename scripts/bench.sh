#!/usr/bin/env bash
# make bench: bench/iopf_bench on the series kernel and on the peer (the
# unrewound Debian tree), each in a QEMU boot of its own, then one table.
#
# Usage: bench.sh [RUNS]
#   RUNS  boots per kernel (default 5), alternating series and peer
#         (A B A B ...); each figure is the median over the boots, with the
#         spread (min-max) of the boots beside it. Under TCG the figures are
#         emulated time: compare the two columns, not with hardware.
# Writes build/logs/bench.txt (the tables), build/logs/bench.tsv (one line a
# row: row, unit, series median, peer median, ratio, series min, series max,
# peer min, peer max; "n/a" where a kernel has no figure) and the boots'
# logs, build/logs/bench-VARIANT-N.log.
# Then the compatibility check, scripts/compat.sh: one more boot of each
# kernel; its output is build/logs/compat.txt, its table build/logs/compat.md,
# and a failure there fails make bench (after the tables are written).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-5}
logs=$top/build/logs
out=$logs/bench.txt
mkdir -p "$logs"
t0=$(date +%s)

"$top/scripts/deps.sh"
for v in series upstream; do
	echo "bench: building $v (kernel, selftests, initramfs)"
	{ "$top/scripts/variant.sh" "$v" kernel &&
	  "$top/scripts/variant.sh" "$v" initramfs; } >"$logs/bench-$v-build.log" 2>&1 ||
		{ tail -30 "$logs/bench-$v-build.log"; exit 1; }
done
t1=$(date +%s)

: >"$out.raw"
for ((i = 1; i <= runs; i++)); do
	for v in series upstream; do
		echo "bench: $v, boot $i of $runs"
		"$top/scripts/variant.sh" "$v" vm bench \
			>"$logs/bench-$v-$i.log" 2>&1 ||
			{ grep -E 'not ok|FAIL|TIMEOUT' "$logs/bench-$v-$i.log"; exit 1; }
		sed -nE "s/^ok [0-9]+ - bench: ([a-z0-9_]+) (-?[0-9]+|n\/a) ([^#]*).*$/$v $i \1 \2 \3/p" \
			"$logs/bench-$v-$i.log" >>"$out.raw"
	done
done
t2=$(date +%s)

# One row per case: median and spread per kernel, the series relative to
# the peer; then each case against its floor (same syscalls, no fault work)
python3 - "$out.raw" "$logs/bench.tsv" "$runs" <<'PY' | tee "$out"
import statistics, sys
vals, units, order = {}, {}, []
for line in open(sys.argv[1]):
    v, boot, case, value, unit = line.split(None, 4)
    if case not in units:
        order.append(case)
    units[case] = unit.strip()
    if value != "n/a":
        vals.setdefault((v, case), []).append(int(value))

def stats(v, case):
    x = vals.get((v, case))
    if not x:
        return None
    return statistics.median(x), min(x), max(x)

def fmt(x):
    return "n/a" if x is None else "%g" % x

print("%d boots of each kernel, alternating; median of the boots [min-max];"
      % int(sys.argv[3]))
print("series/peer < 1: the series takes less time (or memory) per fault")
print("The series' mock devices log every page response for the tests, the")
print("peer's none: the program turns the log off (IOMMU_TEST_OP_IOPF_LOG),")
print("so that a response costs the mock the same on both kernels (each boot")
print("log says so: '# the response log of the mock devices: off')")
print()
print("%-17s %9s %9s %7s  %-19s %-19s %s" % ("case", "series", "peer",
      "s/p", "series [min-max]", "peer [min-max]", "unit"))
tsv = open(sys.argv[2], "w")
tsv.write("row\tunit\tseries\tpeer\tratio\tseries_min\tseries_max"
          "\tpeer_min\tpeer_max\n")
for case in order:
    s, p = stats("series", case), stats("upstream", case)
    ratio = s[0] / p[0] if s and p and p[0] else None
    cells = [case, units[case], fmt(s and s[0]), fmt(p and p[0]),
             "n/a" if ratio is None else "%.2f" % ratio,
             fmt(s and s[1]), fmt(s and s[2]), fmt(p and p[1]), fmt(p and p[2])]
    tsv.write("\t".join(cells) + "\n")
    if case.startswith("floor_"):
        continue
    spread = lambda x: "n/a" if x is None else "[%g-%g]" % (x[1], x[2])
    print("%-17s %9s %9s %7s  %-19s %-19s %s" % (case, cells[2], cells[3],
          cells[4], spread(s), spread(p), units[case]))

print()
print("Against the floor: the same syscalls with no fault work (median of the")
print("boots); case/floor is each kernel's figure over its own floor")
print()
print("%-17s %9s %9s %9s %9s  %s" % ("case", "floor s", "floor p",
      "s/floor", "p/floor", "unit"))
for case in order:
    f = "floor_" + case
    if f not in units:
        continue
    s, p = stats("series", case), stats("upstream", case)
    fs, fp = stats("series", f), stats("upstream", f)
    d = lambda x, y: "n/a" if not x or not y or not y[0] else "%.2f" % (x[0] / y[0])
    print("%-17s %9s %9s %9s %9s  %s" % (case, fmt(fs and fs[0]),
          fmt(fp and fp[0]), d(s, fs), d(p, fp), units[case]))
PY

# What each read and write of the threaded cases carried, from the boots' logs
python3 - "$logs" "$runs" <<'PY' | tee -a "$out"
import re, statistics, sys
logs, runs = sys.argv[1], int(sys.argv[2])
pat = re.compile(r"^# ([a-z0-9_]+): ([0-9.]+) records per read \((\d+) reads, "
                 r"([0-9.]+) % of them gave one record\), ([0-9.]+) per write"
                 r" \(([0-9.]+) writes per fault\)")
seen, order = {}, []
for v in ("series", "upstream"):
    for i in range(1, runs + 1):
        try:
            lines = open("%s/bench-%s-%d.log" % (logs, v, i), errors="replace")
        except OSError:
            continue
        for line in lines:
            mt = pat.match(line)
            if not mt:
                continue
            case = mt.group(1)
            if case not in order:
                order.append(case)
            seen.setdefault((v, case), []).append(
                (float(mt.group(2)), float(mt.group(4)), float(mt.group(5)),
                 float(mt.group(6))))
if order:
    print()
    print("Records per read() of the threaded cases, the share of reads that")
    print("gave a single record, and write()s per fault (one per read, or one")
    print("per record for the _qemu cases); median of the boots [min-max]")
    print()
    print("%-19s %-24s %-24s %-32s %s" % ("case", "series rec/read",
          "peer rec/read", "single-record reads s / p", "writes/fault s / p"))
def cell(x, j, fmt):
    if not x:
        return "n/a"
    y = [t[j] for t in x]
    return (fmt + " [" + fmt + "-" + fmt + "]") % (statistics.median(y), min(y), max(y))
for case in order:
    s, p = seen.get(("series", case)), seen.get(("upstream", case))
    print("%-19s %-24s %-24s %-32s %s / %s" % (case, cell(s, 0, "%.2f"),
          cell(p, 0, "%.2f"), cell(s, 1, "%.0f%%") + " / " + cell(p, 1, "%.0f%%"),
          cell(s, 3, "%.2f"), cell(p, 3, "%.2f")))
PY
t3=$(date +%s)
echo "bench: compatibility, scripts/compat.sh (build/logs/compat.txt)"
compat_rc=0
"$top/scripts/compat.sh" >"$logs/compat.txt" 2>&1 || compat_rc=$?
grep -E '^FAIL|^compat: [0-9]+ cases|^compat: [0-9]+ passed' "$logs/compat.txt" || true
t4=$(date +%s)
echo "bench: builds $((t1 - t0)) s, $((2 * runs)) boots $((t2 - t1)) s, compat $((t4 - t3)) s, total $((t4 - t0)) s"
echo "bench: tables in build/logs/bench.txt and bench.tsv, boots in build/logs/bench-*.log"
exit $compat_rc
