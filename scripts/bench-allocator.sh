#!/usr/bin/env bash
# Benchmarks dev.kvmctl.memory.BlockAllocator against a linear-scan baseline (and a TreeMap yardstick)
# with JMH, all three with the same warm-up, iterations and forks (AllocatorWorkload), and prints a
# markdown table: allocate+free pairs/s at 100, 10,000 and 1,000,000 live blocks (mean ± JMH's
# 99.9 % error), BlockAllocator against the baseline, slowdown from 100 to 1,000,000, the goals.
# Comparisons follow scripts/bench/stats.py: overlapping intervals read "no measurable difference".
# See docs/allocator.md.
#
# Usage: scripts/bench-allocator.sh [extra JMH options]
#   e.g. scripts/bench-allocator.sh -p liveBlocks=100,10000      (skip the million-block runs)
#        scripts/bench-allocator.sh -wi 0 -i 1 -r 200ms -f 1     (smoke run, about 1 minute)
# Needs: JDK 17+, Maven, python3; works from a clean checkout (compiles what it needs). About
# 5 minutes: the baseline check (~20 s), then 3 contenders x 3 sizes x 2 forks x 10 s.
# The JSON result is copied to $BENCH_OUT (default target/bench-allocator.json).
set -euo pipefail
cd "$(dirname "$0")/.."
# Progress (Maven, JMH) goes to stderr; stdout is kept for the report at the end.
exec 3>&1 1>&2

# Offline first (the usual case: everything cached); online once if a JMH jar or plugin is missing.
# The benchmarks are the library module's (java/lib/src/jmh/java).
LIB=java/lib
mvn_bench() {
    mvn -o -q -Pbench -pl "$LIB" "$@" || mvn -q -Pbench -pl "$LIB" "$@"
}

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-allocator.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Run from a private copy of the classes, so a concurrent mvn build in this tree cannot swap or
# delete them while the benchmark forks load them. If another build rebuilt $LIB/target/ without
# the bench profile between our compile and the copy, or clobbered it mid-compile, try again.
for attempt in 1 2 3; do
    echo "== compiling with the bench profile"
    if ! mvn_bench test-compile; then
        [ "$attempt" = 3 ] && exit 1
        echo "(compile failed; retrying in case another build was writing $LIB/target/)" >&2
        sleep 10
        continue
    fi
    rm -rf "$work/classes" "$work/test-classes"
    cp -r "$LIB/target/classes" "$work/classes"
    cp -r "$LIB/target/test-classes" "$work/test-classes"
    if grep -q BlockAllocatorBenchmark "$work/test-classes/META-INF/BenchmarkList" 2>/dev/null \
            && [ -f "$work/test-classes/dev/kvmctl/memory/LinearScanAllocatorCheck.class" ]; then
        break
    fi
    if [ "$attempt" = 3 ]; then
        echo "the benchmark classes keep disappearing from $LIB/target/ (another build running?)" >&2
        exit 1
    fi
done
mvn_bench dependency:build-classpath -Dmdep.includeScope=test -Dmdep.outputFile="$work/classpath.txt" >/dev/null
cp="$work/test-classes:$work/classes:$(cat "$work/classpath.txt")"

echo "== checking that the baseline answers exactly like BlockAllocator"
CHECK=$(java -Xmx3g -cp "$cp" dev.kvmctl.memory.LinearScanAllocatorCheck)
echo "$CHECK"

echo "== JMH ($(nproc) cores, $(java -version 2>&1 | head -1))"
java -cp "$cp" org.openjdk.jmh.Main \
    'dev\.kvmctl\.memory\.(BlockAllocator|LinearScanAllocator|TreeMapReference)Benchmark' \
    -rf json -rff "$work/result.json" "$@"

out=${BENCH_OUT:-target/bench-allocator.json}
mkdir -p "$(dirname "$out")"
cp "$work/result.json" "$out"
exec 1>&3
echo "Command: scripts/bench-allocator.sh $*; $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "$CHECK" | sed 's/^/- /'
echo
python3 - "$out" <<'PY'
import json, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import jmh, num, ratio

by = {}  # (benchmark class, live blocks) -> Figure
for r in json.load(open(sys.argv[1])):
    cls = r["benchmark"].rsplit(".", 2)[1]
    by[(cls, int(r["params"]["liveBlocks"]))] = jmh(r["primaryMetric"])
sizes = sorted({live for _, live in by})
tree, linear, tmap = "BlockAllocatorBenchmark", "LinearScanAllocatorBenchmark", "TreeMapReferenceBenchmark"
def cell(cls, live):
    f = by.get((cls, live))
    return f.text(0) if f else "-"
print("Allocate+free pairs per second (one pair = 2 allocator operations), mean ± JMH's 99.9 % error:")
print()
print("| live blocks | BlockAllocator | linear-scan baseline | BlockAllocator / baseline | TreeMap remove+put (yardstick) |")
print("| ---: | ---: | ---: | ---: | ---: |")
for live in sizes:
    t, l = by.get((tree, live)), by.get((linear, live))
    vs = ratio(t, l) if t and l else "-"
    print(f"| {live:,} | {cell(tree, live)} | {cell(linear, live)} | {vs} | {cell(tmap, live)} |")
print()
lo, hi = sizes[0], sizes[-1]
if lo != hi:
    print(f"Slowdown from {lo:,} to {hi:,} live blocks (rate at {lo:,} / rate at {hi:,}):")
    print()
    for name, cls in (("BlockAllocator", tree), ("linear-scan baseline", linear), ("TreeMap yardstick", tmap)):
        a, b = by.get((cls, lo)), by.get((cls, hi))
        if a and b:
            print(f"- {name}: {ratio(a, b)}")
    print()
t = by.get((tree, 100))
if t:
    ops = t.scaled(2)
    verdict = "met" if ops.lo >= 10e6 else "not met" if ops.hi < 10e6 else "inside the noise"
    print(f"Goal ≥ 10 M operations/s at 100 live blocks: {num(ops.center / 1e6, 2)} ± {num((ops.hi - ops.center) / 1e6, 2)} M: {verdict}")
    b = by.get((tree, 1_000_000))
    if b:
        slow_lo, slow_hi = t.lo / b.hi, t.hi / b.lo if b.lo > 0 else float("inf")
        verdict = "met" if slow_hi <= 2 else "not met" if slow_lo > 2 else "inside the noise"
        print(f"Goal ≤ 2× slowdown from 100 to 1,000,000 live blocks: {num(t.center / b.center, 1)}× "
              f"({num(slow_lo, 1)}–{num(slow_hi, 1)}): {verdict}")
PY
echo
echo "(JSON: $out)"
