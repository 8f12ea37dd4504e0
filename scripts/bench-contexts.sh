#!/usr/bin/env bash
# Context capture/restore and switch latency: plain C vs kvmctl (dev.kvmctl.contexts), with the
# cost of one vCPU ioctl on this machine; then snapshot write/restore for 64 MiB and 1 GiB guests,
# and what a 1 GiB snapshot takes on disk and if its restore maps it. Prints markdown tables: C as
# the median (min–max) of its rounds, Java as JMH's mean ± 99.9 % error, comparisons by the rule of
# scripts/bench/stats.py (overlapping intervals: "no measurable difference").
#
#   scripts/bench-contexts.sh          # compiles what it needs (java/lib, profile 'bench'); about 4 minutes
#   N=200 JMH_OPTS='-f 1 -wi 0 -i 1 -r 200ms' SNAP_OPTS='-f 1 -wi 0 -i 1 -p ramMiB=64' SNAP_MIB=64 \
#       scripts/bench-contexts.sh      # smoke run
#
# The C loop (7 rounds of N operations, N/10 cold switches, after a warm-up round) runs before and
# after the Java runs; its 14 rounds are pooled.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
JMH_OPTS=${JMH_OPTS:--f 1 -wi 3 -w 1s -i 5 -r 2s}
SNAP_OPTS=${SNAP_OPTS:--f 1 -wi 1 -i 5}
SNAP_MIB=${SNAP_MIB:-1024}
OUT=target/bench
mkdir -p "$OUT"

gcc -O2 -Wall -Wextra -Werror -o "$OUT/context-bench" scripts/bench/context-bench.c
. scripts/bench/jmh-classpath.sh

echo "C baseline (1/2)..." >&2
C1=$("$OUT/context-bench" "$N" 2>/dev/null)
echo "Java (JMH $JMH_OPTS)..." >&2
# shellcheck disable=SC2086
java -cp "$CP" org.openjdk.jmh.Main 'dev.kvmctl.bench.ContextBench' $JMH_OPTS \
    -rf json -rff "$OUT/contexts.json" >"$OUT/contexts-jmh.txt"
echo "C baseline (2/2)..." >&2
C2=$("$OUT/context-bench" "$N" 2>/dev/null)
echo "Snapshots (JMH single shot, $SNAP_OPTS)..." >&2
# shellcheck disable=SC2086
java -Dkvmctl.bench.dir="$OUT" -cp "$CP" org.openjdk.jmh.Main 'dev.kvmctl.bench.SnapshotBench' $SNAP_OPTS \
    -rf json -rff "$OUT/snapshots.json" >"$OUT/snapshots-jmh.txt"
echo "Snapshot of a $SNAP_MIB MiB guest: disk use and restore mapping..." >&2
SNAP="$OUT/facts.snap"
FACTS=$(java -cp "$CP" dev.kvmctl.bench.SnapshotFacts "$SNAP_MIB" "$SNAP")
STAT=$(stat -c '%s %b %B' "$SNAP")
rm -f "$SNAP"

echo "Command: N=$N JMH_OPTS='$JMH_OPTS' SNAP_OPTS='$SNAP_OPTS' SNAP_MIB=$SNAP_MIB scripts/bench-contexts.sh;" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$C1" "$C2" "$OUT/contexts.json" "$OUT/snapshots.json" "$FACTS" "$STAT" <<'PY'
import json, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import c_rounds, goal, jmh, jmh_results, num, ratio, runs

c = {k: runs(v).scaled(1e-3) for k, v in c_rounds(sys.argv[1], sys.argv[2]).items()}
j = {k: jmh(m).scaled(1e-3) for k, m in jmh_results(sys.argv[3]).items()}
rows = [("one vCPU ioctl (KVM_GET_MP_STATE)", "ioctl", "ioctl"), ("capture a full context", "capture", "capture"),
        ("restore a full context", "restore", "restore"), ("warm switch (capture A + restore B)", "warm-switch", "warmSwitch"),
        ("cold switch (capture, new VM, restore)", "cold-switch", "coldSwitch")]
print(f"| operation | C (µs): median (min–max of {c['ioctl'].n} rounds) | kvmctl Java (µs) | kvmctl / C |")
print("| --- | ---: | ---: | --- |")
for name, ck, jk in rows:
    print(f"| {name} | {c[ck].text(1)} | {j[jk].text(1)} | {ratio(j[jk], c[ck])} |")
print()
for op, ck, jk in (("capture", "capture", "capture"), ("restore", "restore", "restore"),
                   ("warm switch", "warm-switch", "warmSwitch"), ("cold switch", "cold-switch", "coldSwitch")):
    print("- " + goal(j[jk], c[ck], 1.10, f"Goal, {op} within 1.10× of C"))
print()
print("| snapshot | RAM | time (ms), mean ± 99.9 % error |")
print("| --- | ---: | ---: |")
snaps = [(r["benchmark"].rsplit(".", 1)[1], int(r["params"]["ramMiB"]), jmh(r["primaryMetric"]))
         for r in json.load(open(sys.argv[4]))]
for name, mib, f in sorted(snaps, key=lambda t: (t[0] != "write", t[1])):
    print(f"| {name} | {mib} MiB | {f.text(0)} |")
print()
facts = {}
maps = []
for line in sys.argv[5].splitlines():
    key, _, value = line.partition(" ")
    (maps.append(value) if key == "maps" else facts.__setitem__(key, value))
size, blocks, block = (int(x) for x in sys.argv[6].split())
ram, on_disk = int(facts["ram-bytes"]), blocks * block
print(f"| snapshot of a {num(ram / 2**20, 0)} MiB guest (a quarter random, a quarter pattern, half zero pages) | |")
print("| --- | --- |")
print(f"| disk use | {num(on_disk / 2**20, 0)} MiB, {num(100 * on_disk / ram, 0)} % of its RAM "
      f"(stat blocks × block size; file length {num(size / 2**20, 0)} MiB) |")
def mapping(line):
    span, perms, offset = line.split()[:3]
    start, end = (int(x, 16) for x in span.split("-"))
    kind = "private, copy-on-write" if perms.endswith("p") else "shared"
    return f"{num((end - start) / 2**20, 0)} MiB from file offset 0x{offset.lstrip('0') or '0'}, {perms} ({kind})"
print(f"| restored RAM mapped from the file (/proc/self/maps) | {'; '.join(map(mapping, maps)) if maps else 'no (restore copies it)'} |")
print(f"| file unchanged after the guest's RAM was overwritten | "
      f"{'yes' if facts['file-unchanged-after-guest-writes'] == 'true' else 'NO'} |")
PY
