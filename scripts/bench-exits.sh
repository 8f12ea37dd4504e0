#!/usr/bin/env bash
# Cost per port-I/O exit and per register get+set: plain C vs kvmctl's Java API vs a direct ioctl through jffi (JNR-FFI's native layer),
# on the same ring-3 guest over the same memfd RAM, in one run. Prints a markdown table: C as the
# median (min–max) of its rounds, Java as JMH's mean ± 99.9 % error, and each comparison by the
# rule of scripts/bench/stats.py (overlapping intervals: "no measurable difference").
#
#   scripts/bench-exits.sh            # compiles what it needs (java/lib, profile 'bench'); about 2 minutes
#   ITER=2000 JMH_OPTS='-f 1 -wi 0 -i 1 -r 200ms' scripts/bench-exits.sh     # smoke run
#
# The C loop (7 rounds of ITER after a warm-up round) runs before and after the Java runs, and its
# 14 rounds are pooled, so drift on a shared machine widens the C interval instead of hiding.
set -euo pipefail
cd "$(dirname "$0")/.."
ITER=${ITER:-100000}
JMH_OPTS=${JMH_OPTS:--f 1 -wi 3 -w 1s -i 5 -r 2s}
OUT=target/bench
mkdir -p "$OUT"

gcc -O2 -Wall -Wextra -Werror -o "$OUT/exit-bench" scripts/bench/exit-bench.c
. scripts/bench/jmh-classpath.sh

c_run() { "$OUT/exit-bench" "$ITER" 2>/dev/null; }
echo "C baseline (1/2)..." >&2
C1=$(c_run)
echo "Java (JMH $JMH_OPTS)..." >&2
# shellcheck disable=SC2086
java -cp "$CP" org.openjdk.jmh.Main 'dev.kvmctl.bench.ExitBench' $JMH_OPTS \
    -rf json -rff "$OUT/exits.json" >"$OUT/exits-jmh.txt"
echo "C baseline (2/2)..." >&2
C2=$(c_run)

echo "Command: ITER=$ITER JMH_OPTS='$JMH_OPTS' scripts/bench-exits.sh; $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$C1" "$C2" "$OUT/exits.json" <<'PY'
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import c_rounds, goal, jmh, jmh_results, ratio, runs

c = {k: runs(v) for k, v in c_rounds(sys.argv[1], sys.argv[2]).items()}
j = {k: jmh(m) for k, m in jmh_results(sys.argv[3]).items()}
n = c["port-io-exit"].n
print(f"| operation | C (ns): median (min–max of {n} rounds) | kvmctl Java (ns) | kvmctl / C | jffi ioctl (ns) | jffi / C |")
print("| --- | ---: | ---: | --- | ---: | --- |")
for name, key, java, jnr in (("port-I/O exit (KVM_RUN)", "port-io-exit", "kvmctlPortIoExit", "jnrPortIoExit"),
                             ("KVM_GET_REGS + KVM_SET_REGS", "regs-get-set", "kvmctlRegsGetSet", "jnrRegsGetSet")):
    print(f"| {name} | {c[key].text(0)} | {j[java].text(0)} | {ratio(j[java], c[key])} | "
          f"{j[jnr].text(0)} | {ratio(j[jnr], c[key])} |")
print()
print("- " + goal(j["kvmctlPortIoExit"], c["port-io-exit"], 1.05, "Goal, kvmctl per port-I/O exit within 1.05× of C"))
PY
