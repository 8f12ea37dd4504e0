#!/usr/bin/env bash
# Context capture/restore and switch latency: plain C vs kvmctl (dev.kvmctl.contexts), with the
# cost of one vCPU ioctl on this machine; then snapshot write/restore for 64 MiB and 1 GiB guests.
# Prints markdown tables with Java/C ratios.
#
#   scripts/bench-contexts.sh          # compiles what it needs (java/lib, profile 'bench')
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-2000}
OUT=target/bench
mkdir -p "$OUT"

gcc -O2 -Wall -Wextra -Werror -o "$OUT/context-bench" scripts/bench/context-bench.c
. scripts/bench/jmh-classpath.sh

echo "C baseline (1/2)..." >&2
C1=$("$OUT/context-bench" "$N" 2>/dev/null)
echo "Java (JMH)..." >&2
java -cp "$CP" org.openjdk.jmh.Main 'dev.kvmctl.bench.ContextBench' -f 1 -wi 3 -w 1s -i 5 -r 2s \
    -rf json -rff "$OUT/contexts.json" >"$OUT/contexts-jmh.txt"
echo "C baseline (2/2)..." >&2
C2=$("$OUT/context-bench" "$N" 2>/dev/null)
echo "Snapshots (JMH, single shot)..." >&2
java -Dkvmctl.bench.dir="$OUT" -cp "$CP" org.openjdk.jmh.Main 'dev.kvmctl.bench.SnapshotBench' -f 1 -wi 1 -i 5 \
    -rf json -rff "$OUT/snapshots.json" >"$OUT/snapshots-jmh.txt"

python3 - "$C1" "$C2" "$OUT/contexts.json" "$OUT/snapshots.json" <<'PY'
import json, sys
def parse(text):
    return {l.split()[0]: float(l.split()[1]) for l in text.strip().splitlines()}
c1, c2 = parse(sys.argv[1]), parse(sys.argv[2])
c = {k: (c1[k] + c2[k]) / 2 for k in c1}
jmh = {r["benchmark"].rsplit(".", 1)[1]: r["primaryMetric"] for r in json.load(open(sys.argv[3]))}
rows = [("one vCPU ioctl (KVM_GET_MP_STATE)", "ioctl", "ioctl"), ("capture a full context", "capture", "capture"),
        ("restore a full context", "restore", "restore"), ("warm switch (capture A + restore B)", "warm-switch", "warmSwitch"),
        ("cold switch (capture, new VM, restore)", "cold-switch", "coldSwitch")]
print("| operation | C (us) | kvmctl Java (us) | Java/C |")
print("| --- | --- | --- | --- |")
for name, ck, jk in rows:
    j = jmh[jk]
    print(f"| {name} | {c[ck]/1000:.1f} (runs: {c1[ck]/1000:.1f}, {c2[ck]/1000:.1f}) | "
          f"{j['score']/1000:.1f} ± {j['scoreError']/1000:.1f} | {j['score']/c[ck]:.3f} |")
print()
print("| snapshot | RAM | time (ms) |")
print("| --- | --- | --- |")
for r in json.load(open(sys.argv[4])):
    name = r["benchmark"].rsplit(".", 1)[1]
    print(f"| {name} | {r['params']['ramMiB']} MiB | {r['primaryMetric']['score']:.0f} ± {r['primaryMetric']['scoreError']:.0f} |")
PY
