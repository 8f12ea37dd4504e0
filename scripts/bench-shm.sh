#!/usr/bin/env bash
# VM-to-VM throughput through the shared region, by message size, next to a plain host memcpy of
# the same sizes; and doorbell (RECV waits) against polling, on threads and on one thread. Each
# VM-to-VM figure is the median (min–max) of RUNS demo runs, interleaved; memcpy's the median
# (min–max) of 7 rounds. Prints markdown tables; comparisons by the rule of scripts/bench/stats.py
# (overlapping intervals: "no measurable difference").
#
#   scripts/bench-shm.sh             # after 'make' (needs target/kvmctl.jar); about 3 minutes
#   RUNS=2 MESSAGES=200 scripts/bench-shm.sh     # smoke run
#
# What the VM-to-VM figure measures: the demo's producer generates each payload word by word and
# sends it, the consumer regenerates and compares every byte and frees the block; throughput is
# verified payload bytes over the demo's whole run, guest start-up included. So it is not a copy
# against a copy: the ratio to memcpy says how far the whole exchange is from a bare copy.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
OUT=target/bench
mkdir -p "$OUT"
JAR=target/kvmctl.jar
gcc -O2 -Wall -Wextra -Werror -o "$OUT/memcpy-bench" scripts/bench/memcpy-bench.c

demo() { # key, launch args...; appends "key MiB/s messages/s" to $RESULTS
    local key=$1
    shift
    java -jar "$JAR" launch --json "$@" | tail -1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"], d["problems"]
print(sys.argv[1], d["throughput_mib_s"], d["messages"] / (d["elapsed_ms"] / 1000))' "$key" >>"$RESULTS"
}

RESULTS="$OUT/shm-runs.txt"
: >"$RESULTS"
SIZES="64 4096 65536 262144"
for run in $(seq 1 "$RUNS"); do
    echo "run $run of $RUNS..." >&2
    for size in $SIZES; do
        n=${MESSAGES:-$(( size >= 65536 ? 1500 : 4000 ))}
        demo "threads-$size" --threads --fixed-size --max-message "$size" --messages "$n"
        demo "one-$size" --fixed-size --max-message "$size" --messages "$n"
    done
    for mode in threads one; do
        for consumer in doorbell poll; do
            args=(--messages "${MESSAGES:-3000}")
            [ "$mode" = threads ] && args+=(--threads)
            [ "$consumer" = poll ] && args+=(--poll)
            demo "mix-$mode-$consumer" "${args[@]}"
        done
    done
done
COPY=""
for size in $SIZES; do
    COPY+="$("$OUT/memcpy-bench" "$size" $((8 << 20)))"$'\n'
done

echo "Command: RUNS=$RUNS${MESSAGES:+ MESSAGES=$MESSAGES} scripts/bench-shm.sh; $(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "$RESULTS" "$COPY" "$SIZES" <<'PY'
import sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import c_rounds, ratio, runs

mib, rate = {}, {}
for line in open(sys.argv[1]):
    key, m, r = line.split()
    mib.setdefault(key, []).append(float(m))
    rate.setdefault(key, []).append(float(r))
mib = {k: runs(v) for k, v in mib.items()}
rate = {k: runs(v) for k, v in rate.items()}
copy = {k: runs(v) for k, v in c_rounds(sys.argv[2]).items()}
n = mib["threads-64"].n
print(f"Throughput, MiB/s: VM to VM median (min–max of {n} runs), memcpy median (min–max of 7 rounds)")
print()
print("| message size | VM to VM, threads | VM to VM, one thread | host memcpy | threads / memcpy |")
print("| ---: | ---: | ---: | ---: | --- |")
for size in sys.argv[3].split():
    t, o, c = mib[f"threads-{size}"], mib[f"one-{size}"], copy[f"memcpy-{size}"]
    print(f"| {int(size):,} B | {t.text(1)} | {o.text(1)} | {c.text(0)} | {ratio(t, c)} |")
print()
print(f"Doorbell against polling, log-uniform 1 B–256 KiB messages, median (min–max of {n} runs):")
print()
print("| consumer | host threads | MiB/s | messages/s |")
print("| --- | --- | ---: | ---: |")
hows = {"doorbell": "waits for the doorbell (RECV)", "poll": "polls (yields between polls)"}
wheres = {"threads": "one per VM", "one": "one for both VMs (switching)"}
for mode in ("threads", "one"):
    for consumer in ("doorbell", "poll"):
        k = f"mix-{mode}-{consumer}"
        print(f"| {hows[consumer]} | {wheres[mode]} | {mib[k].text(1)} | {rate[k].text(0)} |")
print()
for mode in ("threads", "one"):
    print(f"- doorbell / polling, {wheres[mode]}: {ratio(mib[f'mix-{mode}-doorbell'], mib[f'mix-{mode}-poll'])}")
PY
