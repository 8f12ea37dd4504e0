#!/usr/bin/env bash
# The allocator floor study (docs/allocator.md, "How fast could it be?"): the allocator
# benchmark's step (free a random live block, allocate 1 to 4096 bytes) on BlockAllocator and on a
# stripped allocator with the cheapest layout found (scripts/bench/AllocatorFloor.java: boundary
# tags of 4 bytes per unit, exact-size bins, lazy removal; no owner counts, no statistics, no
# result objects), with three locks (monitor, one compare-and-set plus a release store, none) and
# two tie rules among idle blocks of one size (lowest address, as BlockAllocator; most recently
# freed). Prints a markdown table of million operations per second (an operation is one allocate
# or one free), median (min–max) over the rounds after the first WARMUP, one JVM per variant.
#
# Usage: scripts/bench-allocator-floor.sh              # 1,000,000 live blocks, about 4 minutes
#        LIVE=100 scripts/bench-allocator-floor.sh     # 100 live blocks
#        THP=1 scripts/bench-allocator-floor.sh        # also every variant with transparent huge pages
# Needs: JDK 17+, python3, the library's classes (make build, or mvn -pl java/lib compile).
set -euo pipefail
cd "$(dirname "$0")/.."
LIVE=${LIVE:-1000000}
ROUNDS=${ROUNDS:-10}
WARMUP=${WARMUP:-4}
CLASSES=java/lib/target/classes
[ -f "$CLASSES/dev/kvmctl/memory/BlockAllocator.class" ] || {
    echo "bench-allocator-floor: $CLASSES is missing: run 'make build' first" >&2
    exit 1
}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-allocator-floor.XXXXXX")
trap 'rm -rf "$work"' EXIT
javac -d "$work" -cp "$CLASSES" scripts/bench/AllocatorFloor.java

variants="BlockAllocator"
for lock in monitor cas none; do
    for ties in address recent; do
        variants="$variants floor-$lock-$ties"
    done
done
flags=("")
[ "${THP:-0}" = 1 ] && flags+=("-XX:+UseTransparentHugePages")
for flag in "${flags[@]}"; do
    for v in $variants; do
        # -Xmx: at a million live blocks the region is 8 GiB, so the floor's tags take 512 MiB.
        # shellcheck disable=SC2086
        java -Xmx6g $flag -cp "$CLASSES:$work" AllocatorFloor "$v" "$LIVE" "$ROUNDS" \
            | tail -n +"$((WARMUP + 1))" | sed "s/^/${flag:-default} /" >>"$work/results"
    done
done

echo "Command: LIVE=$LIVE ROUNDS=$ROUNDS WARMUP=$WARMUP THP=${THP:-0} scripts/bench-allocator-floor.sh;" \
    "$(java -version 2>&1 | head -1); $(date -u '+%Y-%m-%d %H:%M UTC'); $(nproc) cores," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$work/results" <<'PY'
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import ratio, runs

by = {}
live = None
for line in open(sys.argv[1]):
    flag, variant, live, mops = line.split()
    by.setdefault((flag, variant), []).append(float(mops))
print(f"Million operations per second at {int(live):,} live blocks, median (min–max) of each JVM's rounds:")
print()
print("| JVM flags | allocator | lock | ties among equal sizes | M operations/s | / BlockAllocator |")
print("| --- | --- | --- | --- | ---: | ---: |")
for (flag, variant), values in by.items():
    f = runs(values)
    base = runs(by[(flag, "BlockAllocator")])
    if variant == "BlockAllocator":
        who, lock, ties, vs = "BlockAllocator", "StepLock", "lowest address", "1"
    else:
        _, lock, ties = variant.split("-")
        who = "floor (stripped)"
        lock = {"monitor": "synchronized", "cas": "compare-and-set + release store", "none": "none"}[lock]
        ties = {"address": "lowest address", "recent": "most recently freed"}[ties]
        vs = ratio(f, base)
    print(f"| {flag} | {who} | {lock} | {ties} | {f.text(2)} | {vs} |")
PY
