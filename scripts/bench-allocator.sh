#!/usr/bin/env bash
# Benchmarks dev.kvmctl.memory.BlockAllocator against the linear-scan baseline (ReferenceAllocator,
# the property tests' reference model) and a TreeMap yardstick with JMH, in one run of one
# parameterised class (AllocatorBenchmark: same warm-up, iterations and forks for all three), and
# prints a markdown table: allocate+free pairs/s at 100, 10,000 and 1,000,000 live blocks (mean ±
# JMH's 99.9 % error), BlockAllocator against the baseline and the yardstick, slowdown from 100 to
# 1,000,000, the goals (issue 12: >= 20 M operations/s at 100 live blocks, >= 5 M at 1,000,000).
# Comparisons follow scripts/bench/stats.py: overlapping intervals read "no measurable difference".
# See docs/allocator.md.
#
# Usage: scripts/bench-allocator.sh [extra JMH options]
#   e.g. scripts/bench-allocator.sh -p liveBlocks=100,10000      (skip the million-block runs)
#        scripts/bench-allocator.sh -p contender=BlockAllocator,TreeMap   (no baseline)
#        scripts/bench-allocator.sh -wi 1 -i 1 -r 1s -f 1        (smoke run, a few minutes)
# Needs: JDK 17+, Maven, python3; works from a clean checkout (compiles what it needs). About
# 13 minutes: the baseline check (~20 s), then 3 contenders x 3 sizes x 3 forks x 15 s (10 warm-up,
# 5 measured). scripts/bench-allocator-floor.sh asks how fast any allocator with these rules could go.
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
    if grep -q AllocatorBenchmark "$work/test-classes/META-INF/BenchmarkList" 2>/dev/null \
            && [ -f "$work/test-classes/dev/kvmctl/memory/ReferenceCheck.class" ]; then
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
CHECK=$(java -Xmx3g -cp "$cp" dev.kvmctl.memory.ReferenceCheck)
echo "$CHECK"

echo "== JMH ($(nproc) cores, $(java -version 2>&1 | head -1))"
java -cp "$cp" org.openjdk.jmh.Main \
    'dev\.kvmctl\.memory\.AllocatorBenchmark' \
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

by = {}  # (contender, live blocks) -> Figure
for r in json.load(open(sys.argv[1])):
    by[(r["params"]["contender"], int(r["params"]["liveBlocks"]))] = jmh(r["primaryMetric"])
sizes = sorted({live for _, live in by})
mine, linear, tmap = "BlockAllocator", "LinearScan", "TreeMap"
def cell(who, live):
    f = by.get((who, live))
    return f.text(0) if f else "-"
print("Allocate+free pairs per second (one pair = 2 allocator operations), mean ± JMH's 99.9 % error:")
print()
print("| live blocks | BlockAllocator | linear-scan baseline | BlockAllocator / baseline | TreeMap remove+put (yardstick) | BlockAllocator / yardstick |")
print("| ---: | ---: | ---: | ---: | ---: | ---: |")
for live in sizes:
    t, l, y = by.get((mine, live)), by.get((linear, live)), by.get((tmap, live))
    vs = ratio(t, l) if t and l else "-"
    vy = ratio(t, y) if t and y else "-"
    print(f"| {live:,} | {cell(mine, live)} | {cell(linear, live)} | {vs} | {cell(tmap, live)} | {vy} |")
print()
lo, hi = sizes[0], sizes[-1]
if lo != hi:
    print(f"Slowdown from {lo:,} to {hi:,} live blocks (rate at {lo:,} / rate at {hi:,}):")
    print()
    for name, who in (("BlockAllocator", mine), ("linear-scan baseline", linear), ("TreeMap yardstick", tmap)):
        a, b = by.get((who, lo)), by.get((who, hi))
        if a and b:
            print(f"- {name}: {ratio(a, b)}")
    print()
for live, goal in ((100, 20e6), (1_000_000, 5e6)):
    t = by.get((mine, live))
    if t:
        ops = t.scaled(2)
        verdict = "met" if ops.lo >= goal else "not met" if ops.hi < goal else "inside the noise"
        print(f"Goal ≥ {goal / 1e6:g} M operations/s at {live:,} live blocks: "
              f"{num(ops.center / 1e6, 2)} ± {num((ops.hi - ops.center) / 1e6, 2)} M: {verdict}")
PY
echo
echo "(JSON: $out)"
