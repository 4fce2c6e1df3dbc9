#!/usr/bin/env bash
# make soak: the debug kernel (KASAN, lockdep, kmemleak & co.) runs the fault
# queue's stress test seed after seed (1, 2, ...), each followed by the fuzzer
# with the same seed, for SOAK_MIN minutes (default 30), in one boot. Each
# piece stays well under the selftest timeouts: the stress test's concurrent
# case runs 60 s (iopf.soak_piece_ms), its single threaded case and the
# fuzzer their default length. Not part of make check.
#
# Fails on any failed test (each stress run checks its exact ledger, the
# fuzzer its model), any kernel splat and any kmemleak report (scripts/tap.py),
# and prints the ledger totals of all runs. Both programs are the project's
# (harness/), built beside the selftests of the tree (scripts/harness.sh).
# Log: build/logs/debug-soak.log
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
export SOAK_MIN=${SOAK_MIN:-30}
log=$top/build/logs/debug-soak.log
t0=$(date +%s)

"$top/scripts/deps.sh" || exit 1
# SRC=DIR: another source tree, as for make check (see variant.sh)
[ -n "${SRC:-}" ] || "$top/scripts/tree.sh" --keep linux || exit 1
echo "soak: $SOAK_MIN min on the debug kernel (log: build/logs/debug-soak.log)"
"$top/scripts/variant.sh" debug vm soak
rc=$?

# The ledgers the stress test and the fuzzer print at the end of each run
python3 - "$log" <<'PY' || rc=1
import re, sys
text = open(sys.argv[1], errors="replace").read()
def total(pat):
    return [sum(int(x) for x in t) for t in zip(*re.findall(pat, text))] or None
runs = len(re.findall(r"### EXIT iommufd_fault_stress ", text))
fuzz = len(re.findall(r"### EXIT iommufd_fault_fuzz ", text))
trig = total(r"exactly_once:\d+ ms: (\d+) groups, (\d+) queued, (\d+) faults answered by the core")
user = total(r"exactly_once:(\d+) groups read; answered (\d+) success, (\d+) invalid, (\d+) by the kernel")
refused = total(r"exactly_once:refused: (\d+) late and (\d+) bad or duplicate responses")
fz = total(r"run:(\d+) groups, (\d+) responses")
if not (runs and trig and user and refused and fz):
    print("soak: FAIL: no ledger found in the log")
    sys.exit(1)
print("soak: %d stress runs (single threaded and concurrent cases), %d fuzzer runs" % (runs, fuzz))
print("soak: stress: %d groups triggered, %d queued to a fault queue, %d faults answered by the IOMMU core"
      % tuple(trig))
print("soak: stress: %d groups read; answered by user space %d (%d success, %d invalid), by the kernel %d"
      % (user[0], user[1] + user[2], user[1], user[2], user[3]))
print("soak: stress: bad responses refused: %d late, %d bad or duplicate" % tuple(refused))
print("soak: fuzzer: %d groups, %d responses" % tuple(fz))
PY
echo "soak: took $(( $(date +%s) - t0 )) s"
[ $rc = 0 ] && echo "soak: passed" || echo "soak: FAILED"
exit $rc
