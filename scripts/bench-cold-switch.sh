#!/usr/bin/env bash
# Cold switches from prepared VMs: `kvmctl launch --one-thread --switch cold --json` against a C
# program doing the same (scripts/bench/cold-switch.c: the next VM made ahead of time on another
# thread, the retired one closed on a third, as kvmctl's VmPool does). Guests: spin.elf (ring 3,
# no exits), 64 MiB of RAM each, preempted by a timer every quantum. Three runs:
#   2 VMs, 1 ms quantum     switch latency (slice end to the next KVM_RUN) p50 and p99, and its
#                           capture and restore parts, as --json's switch_latency_us,
#                           capture_us and restore_us report them
#   20 VMs, 1 ms and 10 ms  guest time as a share of wall time (kvmctl: the guests' run_time_ms
#                           summed over the --timeout)
# Each is run ROUNDS times (C before and after kvmctl, pooled); each figure is the median
# (min–max) of the rounds, compared by scripts/bench/stats.py's rule (overlapping intervals: "no
# measurable difference"). Prints markdown tables, the goals' verdicts, then one line of JSON.
#
#   scripts/bench-cold-switch.sh                       # builds target/kvmctl.jar if missing; about 4 minutes
#   ROUNDS=1 SECONDS_EACH=1 scripts/bench-cold-switch.sh    # smoke run
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS=${ROUNDS:-5}
SECONDS_EACH=${SECONDS_EACH:-5}
OUT=target/bench
mkdir -p "$OUT"
[ -f target/kvmctl.jar ] || make build >&2

gcc -O2 -Wall -Wextra -Werror -pthread -o "$OUT/cold-switch" scripts/bench/cold-switch.c

# c_run VMS QUANTUM_US: one round of the C program, as one JSON object
c_run() {
    "$OUT/cold-switch" "$SECONDS_EACH" "$2" "$1" 64 | python3 -c '
import json, sys
d = {}
for line in sys.stdin:
    k, *v = line.split()
    d[k] = [float(x) for x in v]
print(json.dumps({"switch": d["switch_latency_us"], "capture": d["capture_us"], "restore": d["restore_us"],
                  "guest_pct": d["guest_time_pct"][0], "switches": d["switches"][0]}))'
}

# j_run VMS QUANTUM_MS: one round of kvmctl, as one JSON object of the same shape
j_run() {
    local images=()
    for _ in $(seq "$1"); do images+=(--image spin.elf); done
    local rc=0
    java -jar target/kvmctl.jar launch "${images[@]}" --mem 64M --one-thread --quantum "$2ms" --switch cold \
        --timeout "${SECONDS_EACH}s" --json 2>/dev/null | sed -n '/^{/p' >"$OUT/cold-switch-launch.json" || rc=$?
    [ "$rc" -eq 124 ] || { echo "launch ended with $rc, expected 124 (the time limit)" >&2; exit 1; }
    python3 - "$OUT/cold-switch-launch.json" "$SECONDS_EACH" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
s = d["switching"]
lat = lambda k: [s[k]["p50"], s[k]["p99"], s[k]["mean"]]
guest_ms = sum(v["run_time_ms"] for v in d["vms"])
print(json.dumps({"switch": lat("switch_latency_us"), "capture": lat("capture_us"), "restore": lat("restore_us"),
                  "guest_pct": 100 * guest_ms / (float(sys.argv[2]) * 1000), "switches": s["switches"],
                  "misses": s.get("prepared_vms", {}).get("misses")}))
PY
}

declare -A C J
for setup in "2 1" "20 1" "20 10"; do
    set -- $setup
    echo "C, $1 VMs, $2 ms quantum (1/2)..." >&2
    for _ in $(seq "$ROUNDS"); do C[$setup]+="$(c_run "$1" "$(($2 * 1000))")"$'\n'; done
    echo "kvmctl, $1 VMs, $2 ms quantum..." >&2
    for _ in $(seq "$ROUNDS"); do J[$setup]+="$(j_run "$1" "$2")"$'\n'; done
    echo "C, $1 VMs, $2 ms quantum (2/2)..." >&2
    for _ in $(seq "$ROUNDS"); do C[$setup]+="$(c_run "$1" "$(($2 * 1000))")"$'\n'; done
done

echo "Command: ROUNDS=$ROUNDS SECONDS_EACH=$SECONDS_EACH scripts/bench-cold-switch.sh;" \
    "$(date -u '+%Y-%m-%d %H:%M UTC'); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo
python3 - "${C[2 1]}" "${J[2 1]}" "${C[20 1]}" "${J[20 1]}" "${C[20 10]}" "${J[20 10]}" <<'PY'
import json, sys
sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, "scripts/bench")
from stats import goal, ratio, runs

def rounds(text):
    return [json.loads(line) for line in text.splitlines() if line.strip()]

c2, j2, c20, j20, c20s, j20s = (rounds(a) for a in sys.argv[1:7])
fig = lambda rs, key, i: runs([r[key][i] for r in rs])
print(f"Two 64 MiB guests, 1 ms quantum, every switch cold; µs, median (min–max) of the rounds "
      f"(C {len(c2)}, kvmctl {len(j2)}):")
print()
print("| cold switch | C, prepared VM + background close | kvmctl | kvmctl / C |")
print("| --- | ---: | ---: | --- |")
for name, key, i in (("switch latency p50", "switch", 0), ("switch latency p99", "switch", 1),
                     ("capture p50 (capture + hand the VM to the closer)", "capture", 0),
                     ("restore p50 (take the prepared VM + restore)", "restore", 0)):
    c, j = fig(c2, key, i), fig(j2, key, i)
    print(f"| {name} | {c.text(1)} | {j.text(1)} | {ratio(j, c)} |")
misses = [r["misses"] for r in j2 if r.get("misses") is not None]
if misses:
    print(f"\nkvmctl switch-ins that found no prepared VM ready: {', '.join(str(m) for m in misses)} "
          f"(of {', '.join(str(r['switches']) for r in j2)} switches)")
print()
print("| 20 guests, one thread, cold | C | kvmctl | kvmctl / C |")
print("| --- | ---: | ---: | --- |")
for name, c_rs, j_rs in (("guest time, 1 ms quantum (%)", c20, j20), ("guest time, 10 ms quantum (%)", c20s, j20s)):
    c, j = runs([r["guest_pct"] for r in c_rs]), runs([r["guest_pct"] for r in j_rs])
    print(f"| {name} | {c.text(1)} | {j.text(1)} | {ratio(j, c)} |")
print()
p50, p99 = fig(j2, "switch", 0), fig(j2, "switch", 1)
g1, g10 = runs([r["guest_pct"] for r in j20]), runs([r["guest_pct"] for r in j20s])
print(f"- Goal, cold switch p50 ≤ 300 µs: {'met' if p50.center <= 300 else 'not met'} (median {p50.center:.1f} µs)")
print(f"- Goal, cold switch p99 ≤ 1,000 µs: {'met' if p99.center <= 1000 else 'not met'} (median {p99.center:.1f} µs)")
print(f"- Goal, 20 VMs ≥ 75 % guest time at 1 ms: {'met' if g1.center >= 75 else 'not met'} (median {g1.center:.1f} %)")
print(f"- Goal, 20 VMs ≥ 95 % guest time at 10 ms: {'met' if g10.center >= 95 else 'not met'} (median {g10.center:.1f} %)")
print()
cp50 = fig(c2, "switch", 0)
print(json.dumps({"switch_p50_us": round(p50.center, 1), "c_switch_p50_us": round(cp50.center, 1),
                  "ratio": round(p50.center / cp50.center, 2), "switch_p99_us": round(p99.center, 1),
                  "c_switch_p99_us": round(fig(c2, "switch", 1).center, 1),
                  "guest_pct_20vms_1ms": round(g1.center, 1), "guest_pct_20vms_10ms": round(g10.center, 1)}))
PY
