#!/usr/bin/env bash
# The allocator floor study (docs/allocator.md, "How fast could it be?"): how fast could any
# allocator with BlockAllocator's rules go on this machine? JMH runs the allocator benchmark's step
# and starting state (PairStep, AllocatorWorkload: free a random live block, allocate 1 to 4096
# bytes) on BlockAllocator and on FloorAllocator, a stripped allocator with the cheapest layout
# found (4-byte boundary tags per unit, exact-size bins with lazy removal; no owner counts, no
# statistics, no result objects), behind three locks (synchronized, StepLock, none) and with two tie
# rules among idle blocks of one size (the lowest address, as BlockAllocator; the most recently
# freed), at 100 and 1,000,000 live blocks (AllocatorFloorBenchmark). Before measuring, FloorCheck
# proves the floor with the lowest address gives BlockAllocator's offsets, step for step, and
# MemoryLatency measures what one dependent read costs here, and from it the ceiling memory latency
# puts on any allocator with these rules at a million live blocks (three such reads per step).
# Prints a markdown table of million operations per second (an operation is one allocate or one
# free; mean ± JMH's 99.9 % error) and each variant against BlockAllocator by the rule of
# scripts/bench/stats.py.
#
# Usage: scripts/bench-allocator-floor.sh              # the JVM's defaults, about 6 minutes
#        THP=1 scripts/bench-allocator-floor.sh        # again with transparent huge pages, about 12
#        scripts/bench-allocator-floor.sh -p liveBlocks=1000000 -f 1   # extra JMH options
# Needs: JDK 17+, Maven, python3; works from a clean checkout (compiles what it needs).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench/allocator-floor
mkdir -p "$OUT"
rm -f "$OUT"/*.json "$OUT"/*.latency
# Progress (Maven, JMH) goes to stderr; stdout is kept for the report at the end.
exec 3>&1 1>&2
# shellcheck source=scripts/bench/jmh-classpath.sh
. scripts/bench/jmh-classpath.sh

echo "== checking that the floor follows BlockAllocator's rules"
CHECK=$(java -Xmx4g -cp "$CP" dev.kvmctl.memory.FloorCheck)
echo "$CHECK"

# The floor's tags take 4 bytes per 64-byte unit: 512 MiB for the 8 GiB region of a million blocks.
# (-jvmArgsAppend on the command line replaces the benchmark's own, so the heap is given again.)
HEAP="-Xms4g -Xmx4g"
flags=("$HEAP")
[ "${THP:-0}" = 1 ] && flags+=("$HEAP -XX:+UseTransparentHugePages")
n=0
for f in "${flags[@]}"; do
    n=$((n + 1))
    echo "== memory latency with $f"
    # shellcheck disable=SC2086 # $f is a list of JVM flags
    java $f -cp "$CP" dev.kvmctl.memory.MemoryLatency >"$OUT/run$n.latency"
    cat "$OUT/run$n.latency"
    echo "== JMH with $f"
    java -cp "$CP" org.openjdk.jmh.Main 'dev\.kvmctl\.memory\.AllocatorFloorBenchmark' \
        -jvmArgsAppend "$f" -rf json -rff "$OUT/run$n.json" "$@"
    echo "$f" >"$OUT/run$n.flags"
done

exec 1>&3
echo "Command: THP=${THP:-0} scripts/bench-allocator-floor.sh $*; $(java -version 2>&1 | head -1);" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "$CHECK" | sed 's/^/- /'
echo
for l in "$OUT"/run*.latency; do
    echo "Memory latency and the ceiling, JVM flags: $(sed 's/-Xms4g -Xmx4g//; s/^ *//; s/^$/default/' "${l%.latency}.flags"):"
    echo
    cat "$l"
    echo
done
python3 - "$OUT" <<'PY'
import glob, json, os, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import jmh, ratio

out = sys.argv[1]
print("Million operations per second (one step = a free and an allocate = 2 operations), mean ± JMH's 99.9 % error:")
print()
print("| JVM flags | live blocks | allocator | lock | ties among equal sizes | M operations/s | / BlockAllocator |")
print("| --- | ---: | --- | --- | --- | ---: | ---: |")
locks = {"monitor": "synchronized", "steplock": "StepLock", "none": "none"}
ties = {"address": "lowest address", "recent": "most recently freed"}
for path in sorted(glob.glob(os.path.join(out, "run*.json"))):
    flags = open(path[:-5] + ".flags").read().replace("-Xms4g -Xmx4g", "").strip() or "default"
    by = {}
    for r in json.load(open(path)):
        p = r["params"]
        by[(int(p["liveBlocks"]), p["variant"])] = jmh(r["primaryMetric"]).scaled(2e-6)
    for (live, variant), f in sorted(by.items(), key=lambda kv: kv[0][0]):
        base = by.get((live, "BlockAllocator"))
        if variant == "BlockAllocator":
            row = ("BlockAllocator", "StepLock", "lowest address", "1")
        else:
            _, lock, tie = variant.split("-")
            row = ("floor (stripped)", locks[lock], ties[tie], ratio(f, base) if base else "-")
        print(f"| {flags} | {live:,} | {row[0]} | {row[1]} | {row[2]} | {f.text(2)} | {row[3]} |")
PY
