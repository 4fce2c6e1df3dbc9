#!/usr/bin/env python3
"""Usage: scripts/tap.py LOG

Parse a guest console log written by scripts/vm.sh (guest/init protocol:
"### RUN <prog>", "### EXIT <prog> <rc> [<secs>s]", "### TIMEOUT <prog> <secs>",
"### DONE") and the kselftest TAP each program prints.

Per program: "ok N name" passes (also # XFAIL / # XPASS, which
kselftest_harness counts as passed), "ok N name # SKIP reason" is skipped,
"not ok N name" fails ("not ok ... # TODO" is skipped), "Bail out!" fails.
Lines starting with "#" are harness logs, never results. A program also
fails (one extra failure) if it has no ### EXIT (crash/hang), was timed
out, printed a plan "1..N" but fewer than N results, or exited non-zero
(other than 4 = KSFT_SKIP) without any "not ok". A program printing no TAP
is one test: rc 0 passed, rc 4 skipped, else failed.

Anywhere in the log, kernel splats (WARNING, BUG, Oops, KASAN, lockdep,
hung task, kmemleak, panic, GPF, UBSAN, list corruption, ODEBUG, RCU stall)
are printed with 30 lines of context; each one, and a missing "### DONE",
counts as one more failure.

KCSAN reports ("BUG: KCSAN: ...", up to the closing "=====" line) are sorted
by their stacks: one with a frame in the series' code (SERIES_CODE: the fault
queue, the attach paths that carry fault capable HWPTs, the mock's IO page
fault code) is a failure like any splat; any other is listed, with its two
top frames, as "KCSAN elsewhere" and does not count.

Output: one "<prog>: P passed, F failed, S skipped" line per program, the
reasons for failures, splats, then as the last line exactly
"N passed, N failed, N skipped". Exit 0 only if N failed is 0.
"""
import re
import sys

# A printk record with CONFIG_PRINTK_TIME: "[   12.345678] ...".
KTIME = re.compile(r"\[\s*\d+\.\d{6}\]")
ANSI = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[c()][0-9A-Za-z]?)")

MARK_RUN = re.compile(r"^### RUN (\S+)\s*$")
MARK_EXIT = re.compile(r"^### EXIT (\S+) (-?\d+)(?: ([0-9.]+)s)?\s*$")
MARK_TIMEOUT = re.compile(r"^### TIMEOUT (\S+)(.*)$")
MARK_DONE = re.compile(r"^### DONE\s*$")

TAP_RESULT = re.compile(r"^(not )?ok\b\s*(\d+)?\s*(.*)$")
TAP_PLAN = re.compile(r"^1\.\.(\d+)\b(.*)$")
DIRECTIVE = re.compile(r"\s#\s*(SKIP|TODO|XFAIL|XPASS)\b\s*(.*)$", re.I)

SPLAT = re.compile(
    r"BUG:|WARNING:|\bOops\b|KASAN:|KFENCE:|UBSAN:|kernel BUG at"
    r"|possible circular locking|possible recursive locking"
    r"|INFO: task .* blocked|unreferenced object 0x|Kernel panic"
    r"|general protection fault|list_add corruption|list_del corruption"
    r"|ODEBUG:|detected stalls? on CPU|self-detected stall"
)
SPLAT_CONTEXT = 30

KCSAN_START = re.compile(r"BUG: KCSAN: ")
KCSAN_END = re.compile(r"^(\[\s*\d+\.\d{6}\]\s*)?={20,}\s*$")
# A stack frame: "[   1.234567]  func+0x12/0x40" (maybe "func.cold+..")
FRAME = re.compile(r"^(?:\[\s*\d+\.\d{6}\])?\s+([A-Za-z_][\w.]*)\+0x[0-9a-f]+/")
# Functions the series adds or changes: drivers/iommu/iommufd/fault.c, the
# attach, replace and detach paths of device.c and hw_pagetable.c, HWPT
# allocation with a fault queue, and the IO page fault code of the mock
# (selftest.c)
SERIES_CODE = re.compile(
    r"^(trace_)?iommufd_fault\w*$"
    r"|^iommufd_(device|group|hwpt|hw_pagetable)\w*_(attach|detach|replace)\w*$"
    r"|^iommufd_(device|group|hwpt)_(attach|detach|replace|do_attach|do_replace)$"
    r"|^iommufd_hwpt_(alloc|paging_alloc|nested_alloc)\w*$"
    r"|^iommufd_(auto_response|attach_handle|handle)\w*$"
    r"|^mock_iopf\w*$|^mock_dev_(report_group|enable_feat|disable_feat)$"
    r"|^mock_domain_nop_attach$|^iommufd_test_(iopf|trigger_iopf|fault)\w*$"
)


def kcsan_reports(lines):
    """Return [(start, end, frames)] for each KCSAN report in @lines."""
    reports, i = [], 0
    while i < len(lines):
        if not KCSAN_START.search(lines[i]):
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not KCSAN_END.match(lines[j]):
            j += 1
        frames = [m.group(1) for m in map(FRAME.match, lines[i:j]) if m]
        reports.append((i, min(j, len(lines) - 1), frames))
        i = j + 1
    return reports


def clean_lines(text):
    """Yield (raw line number, logical line) with serial noise undone.

    The 8250 console writes a whole printk record at once, but a record can
    land in the middle of a line a test is writing: "ok 5 fo[  1.0] msg\\n"
    followed by "o\\n". Split such lines at the timestamp, emit the kernel
    record on its own, and glue the userspace prefix onto the next
    non-kernel line so TAP lines come out whole.
    """
    pending = ""
    for no, raw in enumerate(text.split("\n"), 1):
        line = ANSI.sub("", raw.replace("\r", "")).replace("\x00", "")
        m = KTIME.search(line)
        if m and m.start() > 0 and not line[:m.start()].isspace():
            pending += line[:m.start()]
            yield no, line[m.start():]
            continue
        if m and m.start() == 0:
            yield no, line
            continue
        yield no, pending + line
        pending = ""
    if pending:
        yield no, pending


class Prog:
    def __init__(self, name, lineno):
        self.name = name
        self.lineno = lineno
        self.passed = self.failed = self.skipped = 0
        self.plan = None
        self.results = 0
        self.rc = None
        self.timeout = None
        self.secs = None  # run time the guest measured
        self.bailed = False
        self.notes = []  # failure reasons

    def tap(self, line):
        m = TAP_PLAN.match(line)
        if m:
            self.plan = int(m.group(1))
            if self.plan == 0 and re.search(r"#\s*SKIP", m.group(2), re.I):
                self.skipped += 1
                self.results += 1  # "1..0 # SKIP": whole program skipped
                self.plan = 1
            return
        if line.startswith("Bail out!"):
            self.bailed = True
            self.failed += 1
            self.notes.append(line)
            return
        m = TAP_RESULT.match(line)
        if not m:
            return
        self.results += 1
        notok, rest = m.group(1), m.group(3)
        d = DIRECTIVE.search(" " + rest)
        kind = d.group(1).upper() if d else None
        if kind == "SKIP" or (notok and kind == "TODO"):
            self.skipped += 1
        elif notok:
            self.failed += 1
            self.notes.append(line)
        else:
            self.passed += 1

    def finish(self):
        """Turn program-level problems into failures."""
        if self.rc is None:
            self.failed += 1
            self.notes.append("no '### EXIT': program crashed, hung or the "
                              "guest died while it ran")
            return
        if self.timeout is not None:
            self.failed += 1
            self.notes.append("killed by the per-program timeout%s (rc %d)"
                              % (self.timeout, self.rc))
            return
        if self.results == 0 and not self.bailed:
            # No TAP: the program is a single test judged by its exit code.
            if self.rc == 0:
                self.passed += 1
            elif self.rc == 4:
                self.skipped += 1
            else:
                self.failed += 1
                self.notes.append("exited %d without TAP output" % self.rc)
            return
        if self.plan is not None and self.results < self.plan:
            self.failed += 1
            self.notes.append("planned %d tests, only %d reported (rc %d)"
                              % (self.plan, self.results, self.rc))
        elif self.rc not in (0, 4) and self.failed == 0:
            self.failed += 1
            self.notes.append("exited %d but reported no 'not ok'" % self.rc)


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    with open(sys.argv[1], "rb") as f:
        text = f.read().decode("utf-8", "replace")
    numbered = list(clean_lines(text))
    lines = [l for _, l in numbered]

    progs, cur, done = [], None, False
    for i, line in enumerate(lines):
        if line.startswith("### "):
            m = MARK_RUN.match(line)
            if m:
                if cur:  # previous program never reported EXIT
                    cur.finish()
                cur = Prog(m.group(1), i + 1)
                progs.append(cur)
                continue
            m = MARK_EXIT.match(line)
            if m and cur and m.group(1) == cur.name:
                cur.rc = int(m.group(2))
                cur.secs = m.group(3)
                cur.finish()
                cur = None
                continue
            m = MARK_TIMEOUT.match(line)
            if m and cur and m.group(1) == cur.name:
                t = m.group(2).strip()
                cur.timeout = " (%s)" % t if t else ""
                continue
            if MARK_DONE.match(line):
                done = True
                if cur:
                    cur.finish()
                    cur = None
                continue
        if cur and not KTIME.match(line):
            cur.tap(line.strip())
    if cur:
        cur.finish()

    # KCSAN reports: those in the series' code are splats, the others are
    # listed and skipped by the splat scan.
    kcsan_ours, kcsan_other, in_report = [], [], set()
    for start, end, frames in kcsan_reports(lines):
        in_report.update(range(start, end + 1))
        if any(SERIES_CODE.match(f) for f in frames):
            kcsan_ours.append((start, end))
        else:
            kcsan_other.append((start, frames))

    # Splats, each printed once with context (a splat inside the previous
    # one's context window is part of it).
    splats, last_end = [], -1
    for i, line in enumerate(lines):
        if i in in_report:
            continue
        if SPLAT.search(line) and not line.startswith("#") and i > last_end:
            splats.append(i)
            last_end = i + SPLAT_CONTEXT

    passed = sum(p.passed for p in progs)
    failed = sum(p.failed for p in progs)
    skipped = sum(p.skipped for p in progs)
    for p in progs:
        print("%s: %d passed, %d failed, %d skipped%s"
              % (p.name, p.passed, p.failed, p.skipped,
                 " (%s s)" % p.secs if p.secs else ""))
        for n in p.notes:
            print("    FAIL: %s" % n)
    if not progs:
        print("FAIL: no test program ran (no '### RUN' in the log)")
        failed += 1
    for i in splats:
        print("=" * 72)
        print("KERNEL SPLAT at log line %d:" % numbered[i][0])
        for line in lines[i:i + SPLAT_CONTEXT + 1]:
            print("    " + line)
    if splats:
        print("=" * 72)
        print("FAIL: %d kernel splat(s) in the log" % len(splats))
        failed += len(splats)
    for start, frames in kcsan_other:
        print("KCSAN elsewhere (not the series' code, not counted), log line "
              "%d: %s [%s]" % (numbered[start][0],
                               KCSAN_START.split(lines[start], 1)[-1].strip(),
                               ", ".join(frames[:2])))
    for start, end in kcsan_ours:
        print("=" * 72)
        print("KCSAN REPORT IN THE SERIES' CODE at log line %d:"
              % numbered[start][0])
        for line in lines[start:end + 1]:
            print("    " + line)
    if kcsan_ours:
        print("=" * 72)
        print("FAIL: %d KCSAN report(s) in the series' code" % len(kcsan_ours))
        failed += len(kcsan_ours)
    if not done:
        print("FAIL: no '### DONE': the guest did not finish "
              "(panic, hang or timeout)")
        failed += 1
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
