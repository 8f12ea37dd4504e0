#!/usr/bin/env bash
# Cost per port-I/O exit and per register get+set: plain C vs kvmctl's Java API vs JNR-FFI ioctl,
# on the same ring-3 guest, in one run. Prints a markdown table with Java/C ratios.
#
#   scripts/bench-exits.sh            # compiles what it needs (java/lib, profile 'bench')
#
# The C loop runs before and after the Java runs; its two medians are averaged, so drift on this
# shared machine shows up as a difference between them (printed too).
set -euo pipefail
cd "$(dirname "$0")/.."
ITER=${ITER:-100000}
OUT=target/bench
mkdir -p "$OUT"

gcc -O2 -Wall -Wextra -Werror -o "$OUT/exit-bench" scripts/bench/exit-bench.c
. scripts/bench/jmh-classpath.sh

c_run() { "$OUT/exit-bench" "$ITER" 2>/dev/null; }
echo "C baseline (1/2)..." >&2
C1=$(c_run)
echo "Java (JMH)..." >&2
java -cp "$CP" org.openjdk.jmh.Main 'dev.kvmctl.bench.ExitBench' -f 1 -wi 3 -w 1s -i 5 -r 2s \
    -rf json -rff "$OUT/exits.json" >"$OUT/exits-jmh.txt"
echo "C baseline (2/2)..." >&2
C2=$(c_run)

python3 - "$C1" "$C2" "$OUT/exits.json" <<'PY'
import json, sys
def parse(text):
    return {l.split()[0]: float(l.split()[1]) for l in text.strip().splitlines()}
c1, c2 = parse(sys.argv[1]), parse(sys.argv[2])
c = {k: (c1[k] + c2[k]) / 2 for k in c1}
jmh = {r["benchmark"].rsplit(".", 1)[1]: r["primaryMetric"] for r in json.load(open(sys.argv[3]))}
print("| operation | C (ns) | kvmctl Java (ns) | Java/C | JNR-FFI ioctl (ns) | JNR/C |")
print("| --- | --- | --- | --- | --- | --- |")
for name, key in (("port-I/O exit (KVM_RUN)", "port-io-exit"), ("KVM_GET_REGS + KVM_SET_REGS", "regs-get-set")):
    java = jmh["kvmctlPortIoExit" if key == "port-io-exit" else "kvmctlRegsGetSet"]
    jnr = jmh["jnrPortIoExit" if key == "port-io-exit" else "jnrRegsGetSet"]
    print(f"| {name} | {c[key]:.0f} (runs: {c1[key]:.0f}, {c2[key]:.0f}) | {java['score']:.0f} ± {java['scoreError']:.0f} | "
          f"{java['score'] / c[key]:.3f} | {jnr['score']:.0f} ± {jnr['scoreError']:.0f} | {jnr['score'] / c[key]:.3f} |")
PY
