#!/usr/bin/env bash
# Checkpoint reset: a ring-3 guest writes K pages (every other page from 4 MiB up) of RAM_MIB MiB,
# exits, and is reset to its checkpoint (dirty log, copy the dirty pages back, restore the vCPU),
# again and again: plain C (scripts/bench/reset-bench.c) vs kvmctl's Checkpoint
# (dev.kvmctl.bench.ResetBench). Prints a markdown table of µs per reset, C as the median
# (min–max) of its rounds, Java as JMH's mean ± 99.9 % error, with resets per second at the
# centres; comparisons by the rule of
# scripts/bench/stats.py (overlapping intervals: "no measurable difference"); then a last line of
# JSON for K = 16, 64 MiB, the full vCPU state (MP state, regs, sregs, XSAVE, XCRs, debug regs,
# events: C 'plain-full', 'clear-full' (KVM_CLEAR_DIRTY_LOG, manual protect), 'ring-full' (the
# dirty ring, where the kernel has it) or 'sync-full' (regs, sregs and events through kvm_run's
# sync regs, where the kernel has KVM_CAP_SYNC_REGS), whichever is fastest, against
# Checkpoint.Scope.NO_MSRS, which uses the sync regs where the kernel has them);
# "ratio" is Java's time per reset over C's (lower is better; the goal is ≤ 1.10).
#
#   scripts/bench-reset.sh            # compiles what it needs (java/lib, profile 'bench'); about 10 minutes
#   N=50 RAMS=64 KS=16 JMH_OPTS='-f 1 -wi 0 -i 1 -r 200ms' scripts/bench-reset.sh   # smoke run
#
# The C loop (7 rounds of N resets per variant, after a warm-up round) runs before and after the
# Java runs; its 14 rounds are pooled.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
RAMS=${RAMS:-64 1024}
KS=${KS:-1 16 256}
JMH_OPTS=${JMH_OPTS:--f 1 -wi 2 -w 1s -i 5 -r 1s}
OUT=target/bench
mkdir -p "$OUT"

gcc -O2 -Wall -Wextra -Werror -o "$OUT/reset-bench" scripts/bench/reset-bench.c
. scripts/bench/jmh-classpath.sh

c_all() {  # one C pass over every size: "ram k" headers, then reset-bench's lines
    for ram in $RAMS; do
        for k in $KS; do
            echo "@ $ram $k"
            "$OUT/reset-bench" "$ram" "$k" "$N" 2>/dev/null
        done
    done
}
echo "C baseline (1/2)..." >&2
C1=$(c_all)
echo "Java (JMH $JMH_OPTS)..." >&2
# shellcheck disable=SC2086
java -cp "$CP" org.openjdk.jmh.Main 'dev.kvmctl.bench.ResetBench' $JMH_OPTS \
    -p ramMiB="${RAMS// /,}" -p dirtyPages="${KS// /,}" \
    -rf json -rff "$OUT/reset.json" >"$OUT/reset-jmh.txt"
echo "C baseline (2/2)..." >&2
C2=$(c_all)

echo "Command: N=$N RAMS='$RAMS' KS='$KS' JMH_OPTS='$JMH_OPTS' scripts/bench-reset.sh;" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$C1" "$C2" "$OUT/reset.json" <<'PY'
import json, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import c_rounds, goal, jmh, jmh_results, ratio, runs

def split(text):  # {(ram, k): "reset-bench output"}
    parts, key = {}, None
    for line in text.strip().splitlines():
        if line.startswith("@ "):
            key = tuple(int(x) for x in line.split()[1:])
            parts[key] = ""
        else:
            parts[key] += line + "\n"
    return parts

def rate(f):  # resets per second at a figure's centre
    return f"{1e9 / f.center:,.0f}"

c1, c2 = split(sys.argv[1]), split(sys.argv[2])
j = {k: jmh(m) for k, m in jmh_results(sys.argv[3]).items()}
print("| RAM | dirty pages | vCPU state restored | C variant | C µs/reset: median (min–max) | kvmctl µs/reset | kvmctl / C | resets/s, C / kvmctl (centres) |")
print("| ---: | ---: | --- | --- | ---: | ---: | --- | ---: |")
pairs = (("REGISTERS", "general registers", ("plain-regs",)),
         ("NO_MSRS", "full: MP state, regs, sregs, XSAVE, XCRs, debug regs, events", ("plain-full", "clear-full", "ring-full", "sync-full")),
         ("ALL", "full + every saveable MSR", ("plain-full-msrs",)))
# C's experiment without a kvmctl counterpart, shown beside NO_MSRS but never its baseline
experiments = (("NO_MSRS", "full; written pages left writable, copied back at every reset (C only)", ("sticky-sync",)),)
verdicts, last = [], None
for (ram, k) in c1:
    c = {name: runs(v) for name, v in c_rounds(c1[(ram, k)], c2[(ram, k)]).items()}
    for scope, what, variants in pairs:
        jf = j[f"runAndReset[dirtyPages={k},ramMiB={ram},scope={scope}]"]
        best = min((v for v in variants if v in c), key=lambda v: c[v].center)
        for v in variants:
            if v in c:
                print(f"| {ram} MiB | {k} | {what} | {v}{' (faster)' if len(variants) > 1 and v == best else ''} | "
                      f"{c[v].scaled(1e-3).text(1)} | {jf.scaled(1e-3).text(1)} | {ratio(jf, c[v])} | {rate(c[v])} / {rate(jf)} |")
        if scope == "NO_MSRS":
            for _, ewhat, evariants in experiments:
                for v in evariants:
                    if v in c:
                        print(f"| {ram} MiB | {k} | {ewhat} | {v} | {c[v].scaled(1e-3).text(1)} | — | — | {rate(c[v])} / — |")
            verdicts.append(goal(jf, c[best], 1.10, f"Goal, {k} dirty page{'s' if k != 1 else ''} of {ram} MiB with the full vCPU state within 1.10× of C ({best})"))
            if (ram, k) == (64, 16):
                last = (jf, c[best])
                # the issue's floor, at the upper end of JMH's interval of time per reset
                slowest = jf.hi if jf.hi > jf.center else jf.center
                verdicts.append(f"Goal, at least 10,000 resets/s for 16 dirty pages of 64 MiB with the full vCPU state: "
                                f"{rate(jf)} at the mean, {1e9 / slowest:,.0f} at the slow end of the error: "
                                f"{'met' if 1e9 / slowest >= 10000 else 'NOT met'}")
print()
for v in verdicts:
    print("- " + v)
if last:
    jf, cf = last
    print(json.dumps({"dirty_pages": 16, "ram_mib": 64, "resets_per_s": round(1e9 / jf.center),
                      "c_resets_per_s": round(1e9 / cf.center), "ratio": round(jf.center / cf.center, 3)},
                     separators=(",", ":")))
PY
