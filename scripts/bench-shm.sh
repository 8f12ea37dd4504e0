#!/usr/bin/env bash
# VM to VM through the shared region's rings against the same work between two host threads
# (issue 12's fair benchmark). Both sides run vm-images/src/shm-ring.h's ring code with 256
# entries, a pool of about 16 MiB of blocks (16 to 256 of them) and batches of up to 32: the producer copies S bytes from a source
# buffer into a block (host: memcpy; guest: rep movsb at ring 3), stores the sequence number in
# its first 8 bytes and puts the block on a single-producer/single-consumer ring; the consumer
# checks the sequence number, compares the rest against its own copy (host: memcmp; guest: SSE2,
# 64 bytes a step) and releases the entry. Host: scripts/bench/ring-bench.c, two threads. VMs:
# scripts/bench/RingBench.java, two ring-peer.elf guests, a host thread per VM ("threads") or both
# on one thread with a Switcher (10 ms quantum; a guest sleeps at once when it has nothing to do).
# Each figure is the median (min–max) of RUNS runs, interleaved; a run moves a fixed number of
# messages, timed on both sides alike from the consumer's first message to its last release
# (the guest with the TSC, the host with the monotonic clock): start-up is left out.
#
#   scripts/bench-shm.sh                          # after 'make' (needs target/kvmctl.jar)
#   RUNS=1 SCALE=0.01 scripts/bench-shm.sh        # smoke run
#
# The last line is JSON: {"ratio_64k": VM threads / host MiB/s at 64 KiB,
# "msgs_per_s_64b": VM threads messages/s at 64 B, "host_msgs_per_s_64b": host messages/s at 64 B}.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
SCALE=${SCALE:-1}
OUT=target/bench
mkdir -p "$OUT"
JAR=target/kvmctl.jar
[ -f "$JAR" ] || { echo "bench-shm: $JAR is missing: run 'make' first" >&2; exit 1; }
gcc -O2 -Wall -Wextra -Werror -pthread -o "$OUT/ring-bench" scripts/bench/ring-bench.c
# Compile the VM-side runner once (java's source-file mode would recompile it every run).
rm -rf "$OUT/ring-bench-classes"
javac -d "$OUT/ring-bench-classes" -cp "$JAR" scripts/bench/RingBench.java

SIZES="64 4096 65536 1048576"
count() { # messages for a size, scaled
    local base
    case $1 in
        64) base=4000000 ;; 4096) base=1000000 ;; 65536) base=100000 ;; *) base=10000 ;;
    esac
    python3 -c "print(max(64, int($base * $SCALE)))"
}

RESULTS="$OUT/shm-runs.txt"
: >"$RESULTS"
for run in $(seq 1 "$RUNS"); do
    echo "run $run of $RUNS..." >&2
    for size in $SIZES; do
        n=$(count "$size")
        "$OUT/ring-bench" "$size" "$n" >>"$RESULTS"
        for mode in threads one; do
            java -cp "$JAR:$OUT/ring-bench-classes" RingBench "$size" "$n" "$mode" >>"$RESULTS"
        done
    done
done

echo "Command: RUNS=$RUNS SCALE=$SCALE scripts/bench-shm.sh; $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$RESULTS" "$SIZES" <<'PY'
import json, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import ratio, runs

mib, rate = {}, {}
for line in open(sys.argv[1]):
    key, m, r = line.split()
    mib.setdefault(key, []).append(float(m))
    rate.setdefault(key, []).append(float(r))
mib = {k: runs(v) for k, v in mib.items()}
rate = {k: runs(v) for k, v in rate.items()}
sizes = sys.argv[2].split()
n = mib["host-64"].n
print(f"Ring exchange, median (min–max of {n} runs): MiB/s and messages/s")
print()
print("| message size | host threads MiB/s | VMs, thread per VM MiB/s | VMs, one thread MiB/s "
      "| host msgs/s | VMs, thread per VM msgs/s | VMs, one thread msgs/s | thread per VM / host | one thread / host |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for s in sizes:
    h, t, o = mib[f"host-{s}"], mib[f"vm-threads-{s}"], mib[f"vm-one-{s}"]
    hr, tr, orr = rate[f"host-{s}"], rate[f"vm-threads-{s}"], rate[f"vm-one-{s}"]
    print(f"| {int(s):,} B | {h.text(0)} | {t.text(0)} | {o.text(0)} | {hr.text(0)} | {tr.text(0)} | {orr.text(0)} "
          f"| {ratio(t, h)} | {ratio(o, h)} |")
print()
print("Goals (issue 12, thread per VM): >= 0.5x the host at 64 KiB and 1 MiB; >= 1,000,000 messages/s at 64 B.")
print(json.dumps({
    "ratio_64k": round(mib["vm-threads-65536"].center / mib["host-65536"].center, 4),
    "msgs_per_s_64b": round(rate["vm-threads-64"].center),
    "host_msgs_per_s_64b": round(rate["host-64"].center),
}))
PY
