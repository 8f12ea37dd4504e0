#!/usr/bin/env bash
# Benchmarks dev.kvmctl.memory.BlockAllocator against a linear-scan baseline (and a TreeMap yardstick)
# with JMH, and prints a summary: allocate+free pairs/s at 100, 10,000 and 1,000,000 live blocks,
# speedup over the baseline, slowdown from 100 to 1,000,000. See docs/allocator.md.
#
# Usage: scripts/bench-allocator.sh [extra JMH options]
#   e.g. scripts/bench-allocator.sh -p liveBlocks=100,10000      (skip the million-block runs)
#        scripts/bench-allocator.sh -wi 1 -i 1                   (smoke run)
# Needs: JDK 17+, Maven; works from a clean checkout (compiles what it needs). About 2 minutes.
# The JSON result is copied to $BENCH_OUT (default target/bench-allocator.json).
set -euo pipefail
cd "$(dirname "$0")/.."

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
java -cp "$cp" dev.kvmctl.memory.LinearScanAllocatorCheck

echo "== JMH ($(nproc) cores, $(java -version 2>&1 | head -1))"
java -cp "$cp" org.openjdk.jmh.Main \
    'dev\.kvmctl\.memory\.(BlockAllocator|LinearScanAllocator|TreeMapReference)Benchmark' \
    -rf json -rff "$work/result.json" "$@"

out=${BENCH_OUT:-target/bench-allocator.json}
mkdir -p "$(dirname "$out")"
cp "$work/result.json" "$out"
java -cp "$cp" dev.kvmctl.memory.AllocatorBenchSummary "$out"
echo "(JSON: $out)"
