#!/usr/bin/env bash
# VM-to-VM throughput through the shared region, by message size, next to a plain host memcpy of
# the same sizes; and doorbell (RECV waits) against polling, on threads and on one thread.
# Prints markdown tables.
#
#   scripts/bench-shm.sh             # after 'make' (needs target/kvmctl.jar)
#
# A demo message is written by the producer (payload generated word by word), handed over, and
# verified by the consumer (regenerated and compared), so the VM-to-VM figure includes that work;
# the ratio says how close the whole exchange comes to a bare copy.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=target/bench
mkdir -p "$OUT"
JAR=target/kvmctl.jar
gcc -O2 -Wall -Wextra -Werror -o "$OUT/memcpy-bench" scripts/bench/memcpy-bench.c

demo() { # args...; prints MiB/s, messages/s
    java -jar "$JAR" launch --json "$@" | tail -1 | python3 -c '
import json, sys
d = json.load(sys.stdin)
assert d["ok"], d["problems"]
print("%.1f %.0f" % (d["throughput_mib_s"], d["messages"] / (d["elapsed_ms"] / 1000)))'
}

echo "| message size | VM to VM, threads (MiB/s) | VM to VM, one thread (MiB/s) | host memcpy (MiB/s) | threads / memcpy |"
echo "| --- | --- | --- | --- | --- |"
for size in 64 4096 65536 262144; do
    n=$(( size >= 65536 ? 1500 : 4000 ))
    read -r threads _ < <(demo --threads --fixed-size --max-message "$size" --messages "$n")
    read -r one _ < <(demo --fixed-size --max-message "$size" --messages "$n")
    read -r _ _ copy < <("$OUT/memcpy-bench" "$size" $((8 << 20)))
    python3 -c "print(f'| {$size} B | {$threads} | {$one} | {$copy} | {$threads / $copy:.4f} |')"
done
echo
echo "| consumer | host threads | MiB/s | messages/s |"
echo "| --- | --- | --- | --- |"
for mode in "--threads" ""; do
    for poll in "" "--poll"; do
        read -r mib rate < <(demo $mode $poll --messages 3000)
        how="waits for the doorbell (RECV)"
        [ -n "$poll" ] && how="polls (yields between polls)"
        where="one for both VMs (switching)"
        [ -n "$mode" ] && where="one per VM"
        echo "| $how | $where | $mib | $rate |"
    done
done
