#!/usr/bin/env bash
# The compatibility check: compat/iopf_compat.c on the series kernel and on
# the peer (the unrewound Debian tree, 6.11+'s fault queue), one boot each
# (iopf.mode=compat), and the two outputs compared case by case against the
# documented differences, compat/differences.
#
# Usage: scripts/compat.sh          build (incremental), boot both, compare
#        scripts/compat.sh --logs   compare the logs of the last boots again
#        scripts/compat.sh build SRC HDR DEST
#                                   build the program for one tree (variant.sh's
#                                   initramfs step): statically, against the
#                                   uapi headers installed in HDR/usr/include
#                                   and SRC's iommufd_test.h; with
#                                   COMPAT_MOCK_LOG where SRC's mock device logs
#                                   the responses it receives (the series)
# Env: SRC=DIR  series sources other than build/linux (see variant.sh); the
#               peer is always build/upstream/linux
#
# A case passes when both kernels observe the same result and it is not
# listed in compat/differences, or when they differ and it is listed. It
# fails (a "FAIL:" line) when a case not listed differs, when a listed case
# no longer differs (a stale entry), when a kernel did not print a case, or
# when a boot failed. A case that a kernel cannot run ("unavailable:", e.g.
# no CONFIG_AIO) is skipped. The last line is "N passed, N failed, N skipped".
#
# Writes build/logs/compat.md (the table: case, 6.11+, series, why) and puts
# the same table into docs/compatibility.md between its marker lines
# <!-- compat table begin --> and <!-- compat table end -->. The boots' logs
# are build/logs/series-compat.log and build/logs/upstream-compat.log.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)

if [ "${1:-}" = build ]; then
	[ $# = 4 ] || { echo "usage: $0 build SRC HDR DEST" >&2; exit 2; }
	set -e
	src=$2 hdr=$3 dest=$4
	cc=gcc
	[ "${ARCH:-}" = arm64 ] && cc=aarch64-linux-gnu-gcc
	def=
	grep -q IOMMU_TEST_OP_IOPF_RESPONSES \
		"$src/drivers/iommu/iommufd/iommufd_test.h" &&
		def=-DCOMPAT_MOCK_LOG
	rm -rf "$dest"
	mkdir -p "$dest"
	"$cc" -static -O2 -Wall -Werror $def -isystem "$hdr/usr/include" \
		-I "$src/drivers/iommu/iommufd" -I "$top/demo" \
		-o "$dest/iopf_compat" "$top/compat/iopf_compat.c"
	exit 0
fi

logs=$top/build/logs
mkdir -p "$logs"
t0=$(date +%s)
bootfail=()

if [ "${1:-}" != --logs ]; then
	"$top/scripts/deps.sh" || exit 1
	for v in series upstream; do
		echo "compat: $v: build and boot"
		if [ "$v" = series ]; then
			run=(env ${SRC:+SRC="$SRC"} "$top/scripts/variant.sh" series vm compat)
		else
			run=(env -u SRC "$top/scripts/variant.sh" upstream vm compat)
		fi
		if ! "${run[@]}" >"$logs/compat-$v.out" 2>&1; then
			bootfail+=("$v")
			tail -20 "$logs/compat-$v.out"
		fi
	done
fi

python3 - "$top" "$t0" "${bootfail[@]}" <<'PY'
import os, re, sys, time

top, t0, bootfail = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
sys.path.insert(0, os.path.join(top, "scripts"))
from tap import clean_lines  # the console log's lines made whole

logs = os.path.join(top, "build", "logs")
CASE = re.compile(r"^compat: ([A-Za-z0-9_]+): (.*?)\s*$")
DEVICE = re.compile(r"^compat-device: ([A-Za-z0-9_]+): (.*?)\s*$")
fails = []


def read_log(variant):
    path = os.path.join(logs, "%s-compat.log" % variant)
    cases, device = {}, {}
    try:
        text = open(path, errors="replace").read()
    except OSError:
        fails.append("%s: no log (%s)" % (variant, path))
        return cases, device
    for _, line in clean_lines(text):
        m = CASE.match(line)
        if m:
            if m.group(1) in cases:
                fails.append("%s: case %s printed twice" % (variant, m.group(1)))
            cases[m.group(1)] = m.group(2)
            continue
        m = DEVICE.match(line)
        if m:
            device[m.group(1)] = m.group(2)
    if not cases:
        fails.append("%s: the program printed no case" % variant)
    return cases, device


# compat/differences: "CASE KIND REASON", or "- KIND CALL | 6.11+ | SERIES |
# REASON" for a documented difference that no case observes
KINDS = ("relaxation", "opt-in", "accepted")
listed, unobserved = {}, []
for no, line in enumerate(open(os.path.join(top, "compat", "differences")), 1):
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    parts = line.split(None, 2)
    if len(parts) < 3 or parts[1] not in KINDS:
        fails.append("compat/differences:%d: not 'CASE KIND REASON' "
                     "with KIND one of %s" % (no, ", ".join(KINDS)))
        continue
    name, kind, reason = parts
    if name == "-":
        cells = [c.strip() for c in reason.split(" | ")]
        if len(cells) != 4:
            fails.append("compat/differences:%d: '-' needs CALL | 6.11+ | "
                         "SERIES | REASON" % no)
            continue
        unobserved.append((kind, cells))
    else:
        if name in listed:
            fails.append("compat/differences:%d: %s listed twice" % (no, name))
        listed[name] = (kind, reason)

for v in bootfail:
    fails.append("%s: the boot failed (build/logs/compat-%s.out, "
                 "build/logs/%s-compat.log)" % (v, v, v))
series, sdev = read_log("series")
peer, _ = read_log("upstream")
order = list(series) + [c for c in peer if c not in series]

passed = skipped = 0
rows = []
for case in order:
    s, p = series.get(case), peer.get(case)
    why = ""
    if s is None or p is None:
        fails.append("%s: not printed on the %s" % (case, "series" if s is None else "peer"))
        why = "**printed on one kernel only**"
    elif s.startswith("unavailable:") or p.startswith("unavailable:"):
        skipped += 1
        why = "not run: a kernel lacks what it needs"
        if case in listed and s != p:
            why = "%s: %s" % listed[case]
    elif s != p and case in listed:
        passed += 1
        why = "%s: %s" % listed[case]
    elif s != p:
        fails.append("%s: differs and is not in compat/differences: "
                     "6.11+ %s; series %s" % (case, p, s))
        why = "**differs, not documented**"
    elif case in listed:
        fails.append("%s: listed in compat/differences (%s) but the same on "
                     "both: %s" % (case, listed[case][0], s))
        why = "**listed as a difference, but the same**"
    else:
        passed += 1
    rows.append((case, p, s, why))
for case in listed:
    if case not in series and case not in peer:
        fails.append("%s: in compat/differences but no such case" % case)


def cell(x):
    return "" if x is None else x.replace("|", "\\|")


md = ["| case | 6.11+ (peer) | series, flags 0 | why |",
      "| --- | --- | --- | --- |"]
for case, p, s, why in rows:
    md.append("| `%s` | %s | %s | %s |" % (
        case, cell(p if p is not None else "(not printed)"),
        "same" if s is not None and s == p else
        cell(s if s is not None else "(not printed)"), why))
if unobserved:
    md += ["", "Documented differences that no case observes (they need two "
           "threads, two devices of one iommu group, or a record of what the "
           "peer's mock device received, which it does not keep):", "",
           "| call | 6.11+ (peer) | series, flags 0 | why |",
           "| --- | --- | --- | --- |"]
    for kind, (call, pv, sv, reason) in unobserved:
        md.append("| %s | %s | %s | %s: %s |" % (call, pv, sv, kind, reason))
if sdev:
    md += ["", "What the series' mock device received, where a case answered "
           "groups (the peer's mock device keeps no record of responses):", "",
           "| case | the device received |", "| --- | --- |"]
    for case in order:
        if case in sdev:
            md.append("| `%s` | %s |" % (case, cell(sdev[case])))
table = "\n".join(md) + "\n"

head = ("Generated by `scripts/compat.sh`: `compat/iopf_compat.c` run on the "
        "peer (6.11+'s fault queue, `VARIANT=upstream`) and on the series "
        "(flags-0 queues); \"same\": the series observed what the peer did. "
        "Records are 40 bytes, responses 8; a result shows the count or "
        "errno, the records' fields and whether a group is still queued.\n\n")
open(os.path.join(logs, "compat.md"), "w").write(head + table)

doc = os.path.join(top, "docs", "compatibility.md")
BEGIN, END = "<!-- compat table begin -->", "<!-- compat table end -->"
try:
    text = open(doc).read()
except OSError:
    text = None
if text is not None and BEGIN in text and END in text:
    pre, rest = text.split(BEGIN, 1)
    _, post = rest.split(END, 1)
    new = pre + BEGIN + "\n" + head + table + END + post
    if new != text:
        open(doc, "w").write(new)
        print("compat: docs/compatibility.md: table updated")
else:
    print("compat: docs/compatibility.md has no %s ... %s markers; "
          "table only in build/logs/compat.md" % (BEGIN, END))

for f in fails:
    print("FAIL: compat: " + f)
print("compat: %d cases, %d differ (%d documented), table in "
      "build/logs/compat.md" % (len(order),
      sum(1 for _, p, s, _ in rows if s != p),
      sum(1 for c, p, s, _ in rows if s != p and c in listed)))
print("compat: took %d s" % (time.time() - t0))
print("compat: %d passed, %d failed, %d skipped" % (passed, len(fails), skipped))
sys.exit(1 if fails else 0)
PY
